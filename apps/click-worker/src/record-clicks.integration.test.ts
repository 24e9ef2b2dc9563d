import { type ClickMessage, redisKeys } from '@adtrack/contracts'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, createTopic, stack, testKafka, uniqueName, waitFor } from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DLQ_HEADERS, KafkaDeadLetters } from './dead-letters.js'
import { insertClicks } from './postgres-store.js'
import { type KafkaRecord, recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'

let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let counters: RedisCounters
let keys: ReturnType<typeof redisKeys>
let topic: string
let producer: Producer
const dlqTopic = uniqueName('dlq')
const stores = () => ({ sql: db.sql, counters, deadLetters: new KafkaDeadLetters(producer, dlqTopic) })

beforeAll(async () => {
  db = await createTestDatabase()
  redis = createRedis(stack().redisUrl)
  await createTopic(dlqTopic, 1)
  producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
})
afterAll(async () => {
  await producer?.disconnect()
  await redis?.quit()
  await db?.drop()
})
beforeEach(() => {
  // A fresh key prefix and topic name per test: nothing one test writes is seen by another.
  keys = redisKeys(`${uniqueName('rc')}:`)
  counters = new RedisCounters(redis, keys)
  topic = uniqueName('topic')
})

let seq = 0
function click(adId: string, overrides: Partial<ClickMessage> = {}): ClickMessage {
  seq++
  return {
    v: 1,
    click_id: `click-${uniqueName('c')}-${seq}`,
    ad_id: adId,
    playback_time: seq % 3600,
    received_at: new Date().toISOString(),
    ip: `198.51.100.${seq % 250}`,
    user_agent: 'TestPlayer/1.0',
    ...overrides,
  }
}
const records = (clicks: (ClickMessage | string)[], firstOffset = 0): KafkaRecord[] =>
  clicks.map((c, i) => ({
    offset: String(firstOffset + i),
    value: Buffer.from(typeof c === 'string' ? c : JSON.stringify(c)),
  }))

async function redisCount(adId: string) {
  return Number((await redis.get(keys.clickCount(adId))) ?? 0)
}
async function pgCount(adId: string) {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from clicks where ad_id = ${adId}`
  return row?.n ?? 0
}

describe('recordClicks', () => {
  it('writes every click to Postgres and counts clicks and distinct viewers in Redis', async () => {
    const ad = uniqueName('ad')
    const clicks = [
      click(ad, { ip: '203.0.113.1' }),
      click(ad, { ip: '203.0.113.1' }),
      click(ad, { ip: '203.0.113.2' }),
    ]
    const outcome = await recordClicks({ topic, partition: 0, records: records(clicks) }, stores())
    expect(outcome).toMatchObject({ lastOffset: '2', counted: 3, duplicates: 0, rejected: [] })
    expect(await pgCount(ad)).toBe(3)
    expect(await redisCount(ad)).toBe(3)
    expect(await redis.pfcount(keys.viewers(ad))).toBe(2)
  })

  it('changes nothing when the same batch is delivered again', async () => {
    const ad = uniqueName('ad')
    const batch = { topic, partition: 1, records: records([click(ad), click(ad), click(ad)], 100) }
    await recordClicks(batch, stores())
    const again = await recordClicks(batch, stores())
    expect(again?.counted).toBe(3) // the records still own their clicks...
    expect(await pgCount(ad)).toBe(3) // ...but neither store counts them twice
    expect(await redisCount(ad)).toBe(3)
  })

  it('applies only the new tail of a redelivered batch that grew', async () => {
    const ad = uniqueName('ad')
    const clicks = Array.from({ length: 6 }, () => click(ad))
    await recordClicks({ topic, partition: 2, records: records(clicks.slice(0, 4)) }, stores())
    await recordClicks({ topic, partition: 2, records: records(clicks) }, stores())
    expect(await pgCount(ad)).toBe(6)
    expect(await redisCount(ad)).toBe(6)
  })

  it('counts a click id once however many records carry it, in one batch or across batches', async () => {
    const ad = uniqueName('ad')
    const retried = click(ad)
    await recordClicks({ topic, partition: 0, records: records([retried, click(ad), retried], 0) }, stores())
    const later = await recordClicks({ topic, partition: 0, records: records([retried], 3) }, stores())
    expect(later).toMatchObject({ counted: 0, duplicates: 1 })
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('still counts exactly when a worker died after writing Postgres and before Redis', async () => {
    const ad = uniqueName('ad')
    const clicks = [click(ad), click(ad)]
    // The first delivery got as far as the Postgres commit, then the process died.
    await insertClicks(
      db.sql,
      clicks.map((c, i) => ({ click: c, partition: 3, offset: String(i) })),
    )
    expect(await redisCount(ad)).toBe(0)
    // Kafka redelivers from the last committed offset.
    await recordClicks({ topic, partition: 3, records: records(clicks) }, stores())
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('parks invalid records on the dead-letter topic with the reason and original bytes, and goes on', async () => {
    const ad = uniqueName('ad')
    const poison = JSON.stringify({ v: 1, ad_id: ad })
    const batch = records([click(ad), 'not json', poison, click(ad)])
    batch[1] = { ...batch[1], key: Buffer.from('k1') } as KafkaRecord
    const outcome = await recordClicks({ topic, partition: 4, records: batch }, stores())
    expect(outcome?.counted).toBe(2)
    expect(outcome?.rejected.map((r) => r.offset)).toEqual(['1', '2'])
    expect(outcome?.lastOffset).toBe('3')
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)

    const letters = await readDeadLetters(2)
    const header = (i: number, name: string) => letters[i]?.headers?.[name]?.toString()
    expect(letters.map((l) => l.value?.toString())).toEqual(['not json', poison])
    expect(letters[0]?.key?.toString()).toBe('k1')
    expect(header(0, DLQ_HEADERS.reason)).toMatch(/not JSON/)
    expect(header(1, DLQ_HEADERS.reason)).toMatch(/ClickMessage/)
    expect([
      header(0, DLQ_HEADERS.topic),
      header(0, DLQ_HEADERS.partition),
      header(0, DLQ_HEADERS.offset),
    ]).toEqual([topic, '4', '1'])
    expect(header(1, DLQ_HEADERS.offset)).toBe('2')
  })

  it('keeps each partition’s applied offset apart', async () => {
    const ad = uniqueName('ad')
    await recordClicks({ topic, partition: 0, records: records([click(ad)], 50) }, stores())
    // A lower offset on another partition is new work, not a redelivery.
    await recordClicks({ topic, partition: 1, records: records([click(ad)], 5) }, stores())
    expect(await redisCount(ad)).toBe(2)
    expect(await redis.get(keys.appliedOffset(topic, 0))).toBe('50')
    expect(await redis.get(keys.appliedOffset(topic, 1))).toBe('5')
  })
})

async function readDeadLetters(count: number) {
  const consumer = testKafka().consumer({ groupId: uniqueName('dlq-reader') })
  const letters: {
    key: Buffer | null
    value: Buffer | null
    headers?: Record<string, Buffer | string | undefined>
  }[] = []
  await consumer.connect()
  await consumer.subscribe({ topic: dlqTopic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      letters.push({
        key: message.key,
        value: message.value,
        headers: message.headers as Record<string, Buffer>,
      })
    },
  })
  try {
    await waitFor(async () => (letters.length >= count ? true : undefined), { what: `${count} dead letters` })
  } finally {
    await consumer.disconnect()
  }
  return letters
}
