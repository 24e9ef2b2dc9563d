import { type ClickMessage, deadLetterTopic, type RedisKeys, redisKeys } from '@adtrack/contracts'
import { createSql } from '@adtrack/db'
import { freePort } from '@adtrack/local-stack'
import { createRedis } from '@adtrack/service-runtime/redis'
import { connectedProducer, createTopic, testKafka, uniqueName, waitFor } from '@adtrack/test-support'
import { pino } from 'pino'
import { beforeEach, describe, expect, it } from 'vitest'
import { type BatchContext, type BatchPayload, handleBatch } from './handle-batch.js'
import { createWorkerMetrics } from './metrics.js'
import { type ClickStores, recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'
import {
  clickMessage,
  eventMessage,
  newImpressionId,
  ownScope,
  readDeadLetters,
  workerStores,
} from './testing/worker-stores.js'

// The worker's per-batch logic against the real stores (Postgres, Redis, the dead-letter topic on
// Kafka); only the kafkajs consumer callbacks are fakes, and the last test runs the real consumer.
const real = workerStores()
let keys: RedisKeys
let topic: string
let ad: string

beforeEach(async () => {
  ;({ keys, topic, ad } = await ownScope(real, { keys: 'sr', topic: 'clicks' }, { deadLetterTopic: true }))
})

const stores = (over: Partial<ClickStores> = {}) => real.clickStores(keys, deadLetterTopic(topic), over)

let seq = 0
/** A click valid by the ClickMessage contract: each one a distinct viewer. */
const click = (over: Partial<ClickMessage> = {}): ClickMessage =>
  clickMessage(ad, { user_agent: `Mozilla/5.0 (X11; Linux x86_64) Refusals/${++seq}`, ...over })
// Refused by Postgres: NUL in text (valid by the contract until it rules free text; then the contract
// refuses it first), year 0 (Postgres has none: 22008, or 22007 for the year before it) and a leap
// second (the date-time format allows :60, Date.parse does not), both valid by every contract so far.
const hostile = () => [
  click({ viewer_id: 'viewer\u0000nul' }),
  click({ received_at: '0000-01-01T00:00:00Z' }),
  click({ user_agent: 'Mozilla/5.0 \u0000' }),
  click({ received_at: '9999-12-31T23:59:60Z' }),
]
const BY_CONTRACT = 'does not match ClickMessage'
const yearZero = () => hostile()[1] as ClickMessage

function fakeConsumer(clicks: ClickMessage[], firstOffset = 0) {
  const calls: string[] = []
  const messages = clicks.map((c, i) => ({
    offset: String(firstOffset + i),
    key: Buffer.from(c.ad_id),
    value: Buffer.from(JSON.stringify(c)),
    timestamp: String(Date.now()),
  }))
  const payload: BatchPayload = {
    batch: {
      topic,
      partition: 0,
      messages,
      firstOffset: () => messages[0]?.offset ?? null,
      offsetLag: () => '0',
    },
    resolveOffset: (offset) => void calls.push(`resolve ${offset}`),
    heartbeat: async () => {},
    isRunning: () => true,
    isStale: () => false,
    pause: () => {
      calls.push('pause')
      return () => void calls.push('resume')
    },
  }
  return { payload, calls }
}

function context(s: ClickStores): BatchContext {
  return {
    record: (batch) => recordClicks(batch, s),
    guard: (work) => work(),
    seek: () => {},
    later: () => {},
    now: Date.now,
    retryDelayMs: () => 1,
    failures: new Map(),
    metrics: createWorkerMetrics(),
    logger: pino({ level: 'silent' }),
  }
}

async function counts() {
  const [pg] = await real.db.sql<{ n: number }[]>`select count(*)::int as n from clicks where ad_id = ${ad}`
  return { postgres: pg?.n ?? 0, redis: Number((await real.redis.get(keys.clickCount(ad))) ?? 0) }
}

describe('records a store refuses for their content', () => {
  it('go to the dead-letter topic with the store’s reason; the rest is counted once and the offset after them committed', async () => {
    const bad = hostile()
    const good = Array.from({ length: 6 }, () => click())
    // Interleaved, a refused record first and last, so that each half of the bisection has some.
    const batch = [bad[0], good[0], good[1], bad[1], good[2], bad[2], good[3], good[4], good[5], bad[3]]
    const { payload, calls } = fakeConsumer(batch as ClickMessage[], 40)
    expect(await handleBatch(payload, context(stores()))).toBe('committed')
    expect(calls).toEqual(['resolve 49'])
    expect(await counts()).toEqual({ postgres: 6, redis: 6 })
    expect(await real.redis.get(keys.appliedOffset(topic, 0))).toBe('49')

    // By offset: records the contract refuses are dead-lettered before the stores are tried.
    const letters = (await readDeadLetters(deadLetterTopic(topic), 4, { settleMs: 500 })).sort(
      (a, b) => Number(a.offset) - Number(b.offset),
    )
    expect(letters.map((l) => l.offset)).toEqual(['40', '43', '45', '49'])
    expect(letters.map((l) => l.value)).toEqual([0, 3, 5, 9].map((i) => JSON.stringify(batch[i])))
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(
        `^postgres 22021: invalid byte sequence for encoding "UTF8": 0x00|${BY_CONTRACT}`,
      ),
      expect.stringMatching(/^postgres 2200[78]: /), // out of range, or bad syntax for year -1
      expect.stringMatching(`^postgres 22P05: unsupported Unicode escape sequence|${BY_CONTRACT}`),
      'postgres: Invalid time value',
    ])

    // Redelivered (the commit was lost): the same records are refused again, no count changes.
    const again = fakeConsumer(batch as ClickMessage[], 40)
    expect(await handleBatch(again.payload, context(stores()))).toBe('committed')
    expect(again.calls).toEqual(['resolve 49'])
    expect(await counts()).toEqual({ postgres: 6, redis: 6 })
  })

  it('count exactly once after a crash part-way through isolating them', async () => {
    const batch = [click(), click(), yearZero(), click(), click()]
    // The first delivery stored the records before the refused one, then the process died.
    await handleBatch(fakeConsumer(batch.slice(0, 2), 0).payload, context(stores()))
    // Redelivered from the committed offset, and the batch has grown since.
    const grown = [...batch, click()]
    const { payload, calls } = fakeConsumer(grown, 0)
    expect(await handleBatch(payload, context(stores()))).toBe('committed')
    expect(calls).toEqual(['resolve 5'])
    expect(await counts()).toEqual({ postgres: 5, redis: 5 })
  })

  it('a store outage commits nothing, and the batch succeeds once the store is back', async () => {
    const port = await freePort()
    const deadSql = createSql(`postgres://postgres@127.0.0.1:${port}/none`, { max: 1 })
    const deadRedis = createRedis(`redis://127.0.0.1:${port}`, { failFast: true })
    deadRedis.on('error', () => {})
    const batch = [click(), yearZero(), click()]
    try {
      for (const broken of [{ sql: deadSql }, { counters: new RedisCounters(deadRedis, keys) }]) {
        const { payload, calls } = fakeConsumer(batch, 7)
        expect(await handleBatch(payload, context(stores(broken)))).toBe('retrying')
        expect(calls).toEqual(['pause'])
      }
      // Postgres took the batch before Redis failed; nothing was dead-lettered for an outage.
      expect((await counts()).redis).toBe(0)
      const { payload, calls } = fakeConsumer(batch, 7)
      expect(await handleBatch(payload, context(stores()))).toBe('committed')
      expect(calls).toEqual(['resolve 9'])
      expect(await counts()).toEqual({ postgres: 2, redis: 2 })
      const letters = await readDeadLetters(deadLetterTopic(topic), 1, { settleMs: 500 })
      expect(letters.map((l) => l.offset)).toEqual(['8'])
    } finally {
      deadRedis.disconnect()
      await deadSql.end({ timeout: 1 })
    }
  })

  it('do not stop the real consumer: later records on the partition, clicks and events, are counted', async () => {
    await createTopic(topic, 1)
    const groupId = uniqueName('workers')
    const prefix = `${uniqueName('e2e')}:`
    keys = redisKeys(prefix)
    const worker = real.worker({ topic, groupId, prefix })
    const sender = await connectedProducer('hostile-sender')
    const later = Array.from({ length: 20 }, () => click())
    // Version 2 events after them, as a new ingest-api would add to the topic the old one filled.
    const impressions = Array.from({ length: 5 }, () =>
      eventMessage('impression', newImpressionId(), ad, {
        ip: '198.51.100.9',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Refusals/events',
      }),
    )
    const impressionCount = async () => Number((await real.redis.hget(keys.events(ad), 'impression')) ?? 0)
    try {
      await sender.send({
        topic,
        acks: -1,
        messages: [
          ...[yearZero(), ...later].map((c) => ({ key: c.ad_id, value: JSON.stringify(c) })),
          ...impressions.map((e) => ({ key: e.impression_id, value: JSON.stringify(e) })),
        ],
      })
      await worker.start()
      await waitFor(
        async () => ((await counts()).redis >= 20 && (await impressionCount()) >= 5 ? true : undefined),
        { what: 'the clicks and events after the refused one to be counted' },
      )
      expect(await counts()).toEqual({ postgres: 20, redis: 20 })
      expect(await impressionCount()).toBe(5)
      const [letter] = await readDeadLetters(deadLetterTopic(topic), 1, { settleMs: 500 })
      expect(letter?.reason).toMatch(/^postgres 2200[78]: /)
      const admin = testKafka().admin()
      await admin.connect()
      try {
        await waitFor(
          async () => {
            const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
            return committed?.partitions[0]?.offset === '26' ? true : undefined
          },
          { what: 'offset 26 committed' },
        )
      } finally {
        await admin.disconnect()
      }
    } finally {
      await worker.stop()
      await sender.disconnect()
    }
  })
})
