import { type ClickMessage, redisKeys } from '@adtrack/contracts'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, stack, uniqueName } from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { insertClicks } from './postgres-store.js'
import { type KafkaRecord, recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'

let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let counters: RedisCounters
let keys: ReturnType<typeof redisKeys>
let topic: string

beforeAll(async () => {
  db = await createTestDatabase()
  redis = createRedis(stack().redisUrl)
})
afterAll(async () => {
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
    const outcome = await recordClicks(
      { topic, partition: 0, records: records(clicks) },
      { sql: db.sql, counters },
    )
    expect(outcome).toMatchObject({ lastOffset: '2', counted: 3, duplicates: 0, rejected: [] })
    expect(await pgCount(ad)).toBe(3)
    expect(await redisCount(ad)).toBe(3)
    expect(await redis.pfcount(keys.viewers(ad))).toBe(2)
  })

  it('changes nothing when the same batch is delivered again', async () => {
    const ad = uniqueName('ad')
    const batch = { topic, partition: 1, records: records([click(ad), click(ad), click(ad)], 100) }
    await recordClicks(batch, { sql: db.sql, counters })
    const again = await recordClicks(batch, { sql: db.sql, counters })
    expect(again?.counted).toBe(3) // the records still own their clicks...
    expect(await pgCount(ad)).toBe(3) // ...but neither store counts them twice
    expect(await redisCount(ad)).toBe(3)
  })

  it('applies only the new tail of a redelivered batch that grew', async () => {
    const ad = uniqueName('ad')
    const clicks = Array.from({ length: 6 }, () => click(ad))
    await recordClicks(
      { topic, partition: 2, records: records(clicks.slice(0, 4)) },
      { sql: db.sql, counters },
    )
    await recordClicks({ topic, partition: 2, records: records(clicks) }, { sql: db.sql, counters })
    expect(await pgCount(ad)).toBe(6)
    expect(await redisCount(ad)).toBe(6)
  })

  it('counts a click id once however many records carry it, in one batch or across batches', async () => {
    const ad = uniqueName('ad')
    const retried = click(ad)
    await recordClicks(
      { topic, partition: 0, records: records([retried, click(ad), retried], 0) },
      { sql: db.sql, counters },
    )
    const later = await recordClicks(
      { topic, partition: 0, records: records([retried], 3) },
      { sql: db.sql, counters },
    )
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
    await recordClicks({ topic, partition: 3, records: records(clicks) }, { sql: db.sql, counters })
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('rejects records that are not valid click messages without blocking the valid ones', async () => {
    const ad = uniqueName('ad')
    const outcome = await recordClicks(
      {
        topic,
        partition: 0,
        records: records([click(ad), 'not json', JSON.stringify({ v: 1, ad_id: ad }), click(ad)]),
      },
      { sql: db.sql, counters },
    )
    expect(outcome?.counted).toBe(2)
    expect(outcome?.rejected.map((r) => r.offset)).toEqual(['1', '2'])
    expect(outcome?.lastOffset).toBe('3')
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('keeps each partition’s applied offset apart', async () => {
    const ad = uniqueName('ad')
    await recordClicks({ topic, partition: 0, records: records([click(ad)], 50) }, { sql: db.sql, counters })
    // A lower offset on another partition is new work, not a redelivery.
    await recordClicks({ topic, partition: 1, records: records([click(ad)], 5) }, { sql: db.sql, counters })
    expect(await redisCount(ad)).toBe(2)
    expect(await redis.get(keys.appliedOffset(topic, 0))).toBe('50')
    expect(await redis.get(keys.appliedOffset(topic, 1))).toBe('5')
  })
})
