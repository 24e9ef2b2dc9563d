import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IngestConfig } from '@adtrack/contracts'
import { freePort, type KafkaServer, startKafka } from '@adtrack/local-stack'
import { loadConfig } from '@adtrack/service-runtime'
import { createTestDatabase, insertAds, startService, uniqueName, waitFor } from '@adtrack/test-support'
import { Kafka, logLevel } from 'kafkajs'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIngest } from './ingest.js'
import { Spool } from './spool.js'

// Kafka outages against a real broker. This file starts its own single-node Kafka (the shared test
// broker is used by other files at the same time and must not be stopped), stops it, and starts it again.

const logger = pino({ level: 'silent' })
let workDir: string
let broker: KafkaServer
let db: Awaited<ReturnType<typeof createTestDatabase>>

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'ingest-spool-it-'))
  broker = await startKafka({
    dataDir: join(workDir, 'kafka'),
    port: await freePort(),
    controllerPort: await freePort(),
    log: () => undefined,
  })
  db = await createTestDatabase()
  await insertAds(db.sql, [{ id: 'live' }])
})

afterAll(async () => {
  await broker?.stop()
  await db?.drop()
  if (workDir) await rm(workDir, { recursive: true, force: true })
})

const kafkaClient = () =>
  new Kafka({ clientId: 'spool-it', brokers: broker.brokers, logLevel: logLevel.NOTHING })

async function createTopic(): Promise<string> {
  const topic = uniqueName('spooled')
  const admin = kafkaClient().admin()
  await admin.connect()
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] })
  } finally {
    await admin.disconnect()
  }
  return topic
}

interface TopicRecord {
  key: string
  raw: string
  value: Record<string, unknown>
  partition: number
  offset: number
}

/** Every record of the topic, read from the beginning, once it holds at least the given click ids. */
async function readTopic(topic: string, clickIds: string[]): Promise<TopicRecord[]> {
  const consumer = kafkaClient().consumer({ groupId: uniqueName('reader') })
  const records: TopicRecord[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const raw = String(message.value)
      records.push({
        key: String(message.key),
        raw,
        value: JSON.parse(raw),
        partition,
        offset: Number(message.offset),
      })
    },
  })
  try {
    await waitFor(
      async () => {
        const seen = new Set(records.map((r) => r.value.click_id))
        return clickIds.every((id) => seen.has(id)) ? true : undefined
      },
      { timeoutMs: 45_000, what: `${clickIds.length} click ids in ${topic}` },
    )
  } finally {
    await consumer.disconnect()
  }
  return records
}

/** ingest-api in this process, built as server.ts builds it, on a given spool directory and topic. */
async function startIngest(opts: { topic: string; spoolDir: string; spoolMaxBytes?: number }) {
  const config = {
    ...loadConfig(IngestConfig, {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_CLIENT_ID: 'ingest-spool-it',
      KAFKA_TOPIC: opts.topic,
      WRITE_TIMEOUT: '3s',
      PRODUCE_BATCH_SIZE: '100',
      PRODUCE_MAX_IN_FLIGHT: '1',
      KAFKA_SEND_RETRIES: '2',
      KAFKA_BREAKER_THRESHOLD: '3',
      KAFKA_BREAKER_HALF_OPEN_AFTER: '500ms',
      RATE_LIMIT_MAX: '0',
      SPOOL_DIR: opts.spoolDir,
      LOG_LEVEL: 'silent',
    }),
    // Below the schema's minimum, so set after loading: a spool a few dozen clicks fill.
    SPOOL_MAX_BYTES: opts.spoolMaxBytes ?? 1 << 20,
  }
  const ingest = await createIngest(config, { logger, producer: { minBackoffMs: 20, maxBackoffMs: 100 } })
  await ingest.kafkaConnected
  return ingest
}

const postClick = (app: Awaited<ReturnType<typeof startIngest>>['app'], n: number) =>
  app.inject({
    method: 'POST',
    url: '/ads/click',
    headers: { 'user-agent': `spool-test/${n}` },
    payload: { ad_id: 'live', playback_time: n % 3600, click_id: `${uniqueName('c')}_${n}` },
  })

/** The topic's records for these click ids, in the topic's order (they share a key, so a partition). */
function inTopicOrder(records: TopicRecord[], clickIds: string[]): string[] {
  const wanted = new Set(clickIds)
  const firstSeen = new Map<string, TopicRecord>()
  for (const r of [...records].sort((a, b) => a.offset - b.offset)) {
    const id = String(r.value.click_id)
    if (wanted.has(id) && !firstSeen.has(id)) firstSeen.set(id, r)
  }
  return [...firstSeen.values()].sort((a, b) => a.offset - b.offset).map((r) => String(r.value.click_id))
}

describe('ingest-api while Kafka is down', () => {
  it('answers 202 from the spool, stays ready, and delivers every acknowledged click as sent and in order once Kafka is back', async () => {
    const topic = await createTopic()
    const ingest = await startIngest({ topic, spoolDir: join(workDir, 'spool-outage') })
    try {
      const before = await postClick(ingest.app, 0)
      expect(before.statusCode).toBe(202)

      await broker.stop()
      const accepted: { id: string; n: number }[] = []
      for (let n = 1; n <= 40; n++) {
        const res = await postClick(ingest.app, n)
        expect(res.statusCode, res.body).toBe(202)
        accepted.push({ id: res.json().click_id, n })
      }
      expect(ingest.spool.records).toBe(40)
      // Open, or half-open while a trial send is under way: not closed.
      expect(await ingest.metrics.registry.getSingleMetricAsString('kafka_breaker_state')).toMatch(
        /kafka_breaker_state\{[^}]*\} [12]$/,
      )
      expect(await ingest.metrics.registry.getSingleMetricAsString('kafka_produce_errors_total')).toMatch(
        /kafka_produce_errors_total\{[^}]*\} [1-9]/,
      )
      // Every pod is in this position while Kafka is down; taking clicks into the spool is the point.
      expect((await ingest.app.inject({ url: '/readyz' })).statusCode).toBe(200)

      await broker.start()
      await waitFor(async () => (ingest.spool.isEmpty ? true : undefined), {
        timeoutMs: 45_000,
        what: 'the spool to be replayed',
      })
      const after = await postClick(ingest.app, 41)
      expect(after.statusCode).toBe(202)

      const ids = [before.json().click_id, ...accepted.map((a) => a.id), after.json().click_id]
      const records = await readTopic(topic, ids)
      for (const { id, n } of accepted) {
        const record = records.find((r) => r.value.click_id === id)
        expect(record?.key).toBe('live')
        expect(record?.value).toMatchObject({
          v: 1,
          click_id: id,
          ad_id: 'live',
          playback_time: n,
          user_agent: `spool-test/${n}`,
        })
      }
      // Accepted order is kept: the backlog in the order it was spooled, and nothing overtook it.
      expect(inTopicOrder(records, ids)).toEqual(ids)
      expect(await ingest.metrics.registry.getSingleMetricAsString('spool_replayed_total')).toMatch(
        /spool_replayed_total\{[^}]*\} 40/,
      )
    } finally {
      await broker.start()
      await ingest.close()
    }
  })

  it('answers 503 with Retry-After once the spool is full, and a restarted instance replays the acknowledged clicks before new ones', async () => {
    const topic = await createTopic()
    const spoolDir = join(workDir, 'spool-full')
    const first = await startIngest({ topic, spoolDir, spoolMaxBytes: 2048 })
    const accepted: string[] = []
    let refused = 0
    try {
      await broker.stop()
      for (let n = 1; n <= 30; n++) {
        const res = await postClick(first.app, n)
        if (res.statusCode === 202) {
          accepted.push(res.json().click_id)
          continue
        }
        expect(res.statusCode).toBe(503)
        expect(res.headers['retry-after']).toBe('5')
        expect(res.json()).toMatchObject({ statusCode: 503, code: 'SPOOL_FULL' })
        refused++
      }
      expect(accepted.length).toBeGreaterThan(0)
      expect(refused).toBeGreaterThan(0)
      expect(first.spool.records).toBe(accepted.length)
    } finally {
      await first.close() // stops with the spool full: the acknowledged clicks are on disk only
    }

    const left = await Spool.open({ dir: spoolDir, maxBytes: 1 << 20 })
    expect(left.records).toBe(accepted.length)
    await left.close()

    await broker.start()
    const second = await startIngest({ topic, spoolDir })
    try {
      const fresh = await postClick(second.app, 99)
      expect(fresh.statusCode).toBe(202)
      const ids = [...accepted, fresh.json().click_id]
      const records = await readTopic(topic, ids)
      expect(inTopicOrder(records, ids)).toEqual(ids)
      await waitFor(async () => (second.spool.isEmpty ? true : undefined), { what: 'an empty spool' })
    } finally {
      await second.close()
    }
  })

  it('keeps what it acknowledged across SIGTERM: the next process on the same spool directory sends it to Kafka', async () => {
    const topic = await createTopic()
    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC: topic,
      SPOOL_DIR: join(workDir, 'spool-sigterm'),
      WRITE_TIMEOUT: '3s',
      SHUTDOWN_TIMEOUT: '5s',
      KAFKA_BREAKER_HALF_OPEN_AFTER: '500ms',
      LOG_LEVEL: 'warn',
    }
    const ingest = await startService('ingest-api', env)
    const accepted: string[] = []
    try {
      await broker.stop()
      for (let n = 1; n <= 20; n++) {
        const res = await fetch(`${ingest.httpUrl}/ads/click`, {
          method: 'POST',
          body: JSON.stringify({ ad_id: 'live', playback_time: n }),
        })
        expect(res.status).toBe(202)
        accepted.push(((await res.json()) as { click_id: string }).click_id)
      }
    } finally {
      expect(await ingest.stop('SIGTERM')).toBe(0)
    }

    await broker.start()
    const next = await startService('ingest-api', env) // ready only once the spool has been replayed
    try {
      const records = await readTopic(topic, accepted)
      expect(inTopicOrder(records, accepted)).toEqual(accepted)
    } finally {
      await next.stop('SIGTERM')
    }
  })
})
