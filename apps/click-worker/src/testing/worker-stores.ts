import { randomBytes } from 'node:crypto'
import {
  type AdEvent,
  type ClickMessage,
  deadLetterTopic,
  type EventMessage,
  type RedisKeys,
  redisKeys,
} from '@adtrack/contracts'
import { createRedis } from '@adtrack/service-runtime/redis'
import {
  createTestDatabase,
  createTopic,
  insertAds,
  opened,
  stack,
  testKafka,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { buildWorker, type ClickWorker, type WorkerDeps } from '../app.js'
import { DLQ_HEADERS, KafkaDeadLetters } from '../dead-letters.js'
import { createWorkerMetrics } from '../metrics.js'
import type { ClickStores, KafkaRecord } from '../record-clicks.js'
import { RedisCounters } from '../redis-store.js'

// The worker's per-batch job against the dev stack's real stores, for its integration tests: one
// Postgres database, Redis client and dead-letter producer per test file, and messages valid by the
// contract. Each test still takes its own key prefix, topic name and ads.

/** The click rules the tests judge by unless they say otherwise. */
export const TEST_RULES = { repeatWindowMs: 30_000, hourlyBudget: 30 }

export interface WorkerStores {
  readonly db: Awaited<ReturnType<typeof createTestDatabase>>
  readonly redis: Redis
  /** Idempotent, as the worker's own dead-letter producer is. */
  readonly producer: Producer
  /** The stores recordClicks takes: counters under `keys`, dead letters to that topic (or those). */
  /**
   * A worker with a real consumer over these stores (a 6 s session, so a group settles quickly), not
   * started; metrics fresh and TEST_RULES unless `deps` gives others.
   */
  worker(
    config: { topic: string; groupId: string; prefix: string },
    deps?: Partial<Pick<WorkerDeps, 'metrics' | 'rules'>>,
  ): ClickWorker
  clickStores(
    keys: RedisKeys,
    deadLetters: string | ClickStores['deadLetters'],
    over?: Partial<ClickStores>,
  ): ClickStores
}

/**
 * Opens the stores before a test file's tests and closes them after (call it at the file's top level).
 * `databasePerTest` gives each test a database of its own instead, for tests that read every row.
 */
export function workerStores(options: { databasePerTest?: boolean } = {}): WorkerStores {
  let db: WorkerStores['db'] | undefined
  let redis: Redis | undefined
  let producer: Producer | undefined
  beforeAll(async () => {
    if (!options.databasePerTest) db = await createTestDatabase()
    redis = createRedis(stack().redisUrl)
    producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
  })
  afterAll(async () => {
    await producer?.disconnect()
    await redis?.quit()
    await db?.drop()
  })
  if (options.databasePerTest) {
    beforeEach(async () => {
      db = await createTestDatabase()
    })
    afterEach(async () => {
      await db?.drop()
      db = undefined
    })
  }

  const stores: WorkerStores = {
    get db() {
      return opened(db, 'workerStores: the database')
    },
    get redis() {
      return opened(redis, 'workerStores: Redis')
    },
    get producer() {
      return opened(producer, 'workerStores: the producer')
    },
    worker: ({ topic, groupId, prefix }, deps = {}) =>
      buildWorker(
        { KAFKA_TOPIC: topic, KAFKA_GROUP_ID: groupId, REDIS_KEY_PREFIX: prefix, sessionTimeoutMs: 6000 },
        {
          kafka: testKafka(),
          sql: stores.db.sql,
          redis: stores.redis,
          logger: pino({ level: 'silent' }),
          metrics: deps.metrics ?? createWorkerMetrics(),
          rules: deps.rules ?? TEST_RULES,
        },
      ),
    clickStores: (keys, deadLetters, over = {}) => ({
      sql: stores.db.sql,
      counters: new RedisCounters(stores.redis, keys),
      deadLetters:
        typeof deadLetters === 'string' ? new KafkaDeadLetters(stores.producer, deadLetters) : deadLetters,
      rules: TEST_RULES,
      ...over,
    }),
  }
  return stores
}

let seq = 0

/**
 * A test's own Redis key prefix, topic name (and that topic's dead-letter topic, when `deadLetterTopic`
 * asks for it up front) and ad, the ad inserted in the file's database: nothing one test writes is
 * seen by another. For a beforeEach.
 */
export async function ownScope(
  stores: WorkerStores,
  names: { keys: string; topic: string },
  opts: { deadLetterTopic?: boolean } = {},
): Promise<{ keys: RedisKeys; topic: string; ad: string }> {
  const keys = redisKeys(`${uniqueName(names.keys)}:`)
  const topic = uniqueName(names.topic)
  if (opts.deadLetterTopic) await createTopic(deadLetterTopic(topic), 1)
  const ad = uniqueName('ad')
  await insertAds(stores.db.sql, [{ id: ad }])
  return { keys, topic, ad }
}

/** A click valid by the ClickMessage contract; each from a viewer of its own unless `over` names one. */
export function clickMessage(adId: string, over: Partial<ClickMessage> = {}): ClickMessage {
  seq++
  return {
    v: 1,
    click_id: uniqueName(`c${seq}`),
    ad_id: adId,
    playback_time: seq % 3600,
    received_at: new Date().toISOString(),
    ip: `198.51.100.${seq % 250}`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) TestPlayer/1.0',
    ...over,
  }
}

/** A tracking event valid by the EventMessage contract, served five seconds before it was received. */
export function eventMessage(
  type: AdEvent,
  impressionId: string,
  adId: string,
  over: Partial<EventMessage> = {},
): EventMessage {
  seq++
  return {
    v: 2,
    type,
    impression_id: impressionId,
    ad_id: adId,
    served_at: new Date(Date.now() - 5000).toISOString(),
    received_at: new Date().toISOString(),
    ip: `198.51.100.${seq % 250}`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) TestPlayer/2.0',
    ...over,
  } as EventMessage
}

/** An impression id as ingest-api mints them. */
export const newImpressionId = (): string => randomBytes(16).toString('base64url')

/** Messages as the consumer hands them over, at consecutive offsets from `first`; strings as raw bytes. */
export const asRecords = (messages: (ClickMessage | EventMessage | string)[], first = 0): KafkaRecord[] =>
  messages.map((m, i) => ({
    offset: String(first + i),
    value: Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)),
  }))

export interface DeadLetter {
  key: string | null
  /** The original record's bytes, as text. */
  value: string
  /** The original record's offset and why it was parked (the DLQ_HEADERS). */
  offset: string
  reason: string
  headers: Record<string, string>
}

/**
 * The records on a dead-letter topic in the order they arrived, once `count` have, read with a group of
 * its own. `settleMs` waits that much longer, so a test can say no more than `count` came.
 */
export async function readDeadLetters(
  topic: string,
  count: number,
  { settleMs = 0 } = {},
): Promise<DeadLetter[]> {
  const consumer = testKafka().consumer({ groupId: uniqueName('dlq-reader') })
  const letters: DeadLetter[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value ?? '')]),
      )
      letters.push({
        key: message.key === null ? null : String(message.key),
        value: String(message.value),
        offset: headers[DLQ_HEADERS.offset] ?? '',
        reason: headers[DLQ_HEADERS.reason] ?? '',
        headers,
      })
    },
  })
  try {
    await waitFor(async () => (letters.length >= count ? true : undefined), { what: `${count} dead letters` })
    if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs))
  } finally {
    await consumer.disconnect()
  }
  return letters
}
