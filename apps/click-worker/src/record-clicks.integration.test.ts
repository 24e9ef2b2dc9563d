import { type RedisKeys, redisKeys } from '@adtrack/contracts'
import { createSql } from '@adtrack/db'
import { freePort } from '@adtrack/local-stack'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTopic, insertAds, uniqueName } from '@adtrack/test-support'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DLQ_HEADERS } from './dead-letters.js'
import { insertClicks } from './postgres-store.js'
import { type KafkaRecord, recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'
import { StoreError } from './store-errors.js'
import {
  clickMessage as click,
  readDeadLetters,
  asRecords as records,
  workerStores,
} from './testing/worker-stores.js'

const real = workerStores()
let keys: RedisKeys
let topic: string
const dlqTopic = uniqueName('dlq')
const stores = () => real.clickStores(keys, dlqTopic)
/** A fresh active ad for one test. */
async function newAd(status: 'active' | 'paused' = 'active') {
  const id = uniqueName('ad')
  await insertAds(real.db.sql, [{ id, status }])
  return id
}

beforeAll(async () => {
  await createTopic(dlqTopic, 1)
})
beforeEach(() => {
  // A fresh key prefix and topic name per test: nothing one test writes is seen by another.
  keys = redisKeys(`${uniqueName('rc')}:`)
  topic = uniqueName('topic')
})

async function redisCount(adId: string) {
  return Number((await real.redis.get(keys.clickCount(adId))) ?? 0)
}
async function pgCount(adId: string) {
  const [row] = await real.db.sql<
    { n: number }[]
  >`select count(*)::int as n from clicks where ad_id = ${adId}`
  return row?.n ?? 0
}

describe('recordClicks', () => {
  it('writes every click to Postgres and counts clicks and distinct viewers in Redis', async () => {
    const ad = await newAd()
    const later = new Date(Date.now() + 60_000).toISOString() // outside the repeat window
    const clicks = [
      click(ad, { ip: '203.0.113.1' }),
      click(ad, { ip: '203.0.113.1', received_at: later }),
      click(ad, { ip: '203.0.113.2' }),
    ]
    const outcome = await recordClicks({ topic, partition: 0, records: records(clicks) }, stores())
    expect(outcome).toMatchObject({ lastOffset: '2', counted: 3, duplicates: 0, rejected: [] })
    expect(await pgCount(ad)).toBe(3)
    expect(await redisCount(ad)).toBe(3)
    expect(await real.redis.pfcount(keys.viewers(ad))).toBe(2)
  })

  it('changes nothing when the same batch is delivered again', async () => {
    const ad = await newAd()
    const batch = { topic, partition: 1, records: records([click(ad), click(ad), click(ad)], 100) }
    await recordClicks(batch, stores())
    const again = await recordClicks(batch, stores())
    expect(again?.counted).toBe(3) // the records still own their clicks...
    expect(await pgCount(ad)).toBe(3) // ...but neither store counts them twice
    expect(await redisCount(ad)).toBe(3)
  })

  it('applies only the new tail of a redelivered batch that grew', async () => {
    const ad = await newAd()
    const clicks = Array.from({ length: 6 }, () => click(ad))
    await recordClicks({ topic, partition: 2, records: records(clicks.slice(0, 4)) }, stores())
    await recordClicks({ topic, partition: 2, records: records(clicks) }, stores())
    expect(await pgCount(ad)).toBe(6)
    expect(await redisCount(ad)).toBe(6)
  })

  it('counts a click id once however many records carry it, in one batch or across batches', async () => {
    const ad = await newAd()
    const retried = click(ad)
    await recordClicks({ topic, partition: 0, records: records([retried, click(ad), retried], 0) }, stores())
    const later = await recordClicks({ topic, partition: 0, records: records([retried], 3) }, stores())
    expect(later).toMatchObject({ counted: 0, duplicates: 1 })
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('still counts exactly when a worker died after writing Postgres and before Redis', async () => {
    const ad = await newAd()
    const clicks = [click(ad), click(ad)]
    // The first delivery got as far as the Postgres commit, then the process died.
    await insertClicks(
      real.db.sql,
      clicks.map((c, i) => ({ click: c, partition: 3, offset: String(i), viewerId: `v${i}`, reason: null })),
    )
    expect(await redisCount(ad)).toBe(0)
    // Kafka redelivers from the last committed offset.
    await recordClicks({ topic, partition: 3, records: records(clicks) }, stores())
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)
  })

  it('parks invalid records on the dead-letter topic with the reason and original bytes, and goes on', async () => {
    const ad = await newAd()
    const poison = JSON.stringify({ v: 1, ad_id: ad })
    const batch = records([click(ad), 'not json', poison, click(ad)])
    batch[1] = { ...batch[1], key: Buffer.from('k1') } as KafkaRecord
    const outcome = await recordClicks({ topic, partition: 4, records: batch }, stores())
    expect(outcome?.counted).toBe(2)
    expect(outcome?.rejected.map((r) => r.offset)).toEqual(['1', '2'])
    expect(outcome?.lastOffset).toBe('3')
    expect(await pgCount(ad)).toBe(2)
    expect(await redisCount(ad)).toBe(2)

    const letters = await readDeadLetters(dlqTopic, 2)
    const header = (i: number, name: string) => letters[i]?.headers[name]
    expect(letters.map((l) => l.value)).toEqual(['not json', poison])
    expect(letters[0]?.key).toBe('k1')
    expect(header(0, DLQ_HEADERS.reason)).toMatch(/not JSON/)
    expect(header(1, DLQ_HEADERS.reason)).toMatch(/ClickMessage/)
    expect([
      header(0, DLQ_HEADERS.topic),
      header(0, DLQ_HEADERS.partition),
      header(0, DLQ_HEADERS.offset),
    ]).toEqual([topic, '4', '1'])
    expect(header(1, DLQ_HEADERS.offset)).toBe('2')
  })

  it('stores invalid traffic with its reason and leaves it out of the valid counts', async () => {
    const ad = await newAd()
    const paused = await newAd('paused')
    const t = Date.now()
    const at = (ms: number) => new Date(t + ms).toISOString()
    const viewer = { ip: '192.0.2.77', user_agent: 'Mozilla/5.0 (Windows NT 10.0) Firefox/130.0' }
    const batch = [
      click(ad, { ...viewer, received_at: at(0), playback_time: 10 }),
      click(ad, { ...viewer, received_at: at(5_000) }), // repeat within 30 s
      click(ad, {
        ip: '192.0.2.78',
        user_agent: 'Googlebot/2.1 (+http://www.google.com/bot.html)',
        received_at: at(0),
      }),
      click(paused, { ...viewer, received_at: at(0) }),
      click(ad, { ip: '192.0.2.79', user_agent: viewer.user_agent, received_at: at(0), playback_time: 20 }),
    ]
    const outcome = await recordClicks({ topic, partition: 0, records: records(batch) }, stores())
    expect(outcome).toMatchObject({ counted: 2, invalid: { repeat: 1, bot: 1, inactive_ad: 1 } })
    const stored = await real.db.sql<{ click_id: string; invalid_reason: string | null }[]>`
      select click_id, invalid_reason from clicks where click_id = any(${batch.map((c) => c.click_id)})`
    const reasonOf = new Map(stored.map((r) => [r.click_id, r.invalid_reason]))
    expect(batch.map((c) => reasonOf.get(c.click_id))).toEqual([null, 'repeat', 'bot', 'inactive_ad', null])
    expect(await redisCount(ad)).toBe(2)
    expect(await real.redis.hgetall(keys.invalid(ad))).toEqual({ repeat: '1', bot: '1' })
    expect(await real.redis.hgetall(keys.invalid(paused))).toEqual({ inactive_ad: '1' })
    // The rollup keeps the reasons too (the overview's invalid traffic), once each on redelivery.
    await recordClicks({ topic, partition: 0, records: records(batch) }, stores())
    const byReason = await real.db.sql<{ ad_id: string; reasons: number[] }[]>`
      select ad_id, array[sum(invalid)::int, sum(invalid_bot)::int, sum(invalid_repeat)::int,
                          sum(invalid_over_budget)::int, sum(invalid_inactive_ad)::int] as reasons
      from click_minutes where ad_id in (${ad}, ${paused}) group by ad_id`
    expect(Object.fromEntries(byReason.map((r) => [r.ad_id, r.reasons]))).toEqual({
      [ad]: [2, 1, 1, 0, 0],
      [paused]: [1, 0, 0, 0, 1],
    })
    // An archived ad is not active either, whatever its status says.
    const archived = await newAd()
    await real.db.sql`update ads set archived_at = now() where id = ${archived}`
    const late = await recordClicks(
      { topic, partition: 0, records: records([click(archived)], 100) },
      stores(),
    )
    expect(late?.invalid).toEqual({ inactive_ad: 1 })
    expect(await real.redis.get(keys.playbackSum(ad))).toBe('30')
    expect(await real.redis.pfcount(keys.viewers(ad))).toBe(2)
  })

  it('marks a viewer over its hourly budget, counting what Postgres already holds', async () => {
    const ad = await newAd()
    const other = await newAd()
    const viewer = { ip: '192.0.2.90', user_agent: 'Mozilla/5.0 Safari/605.1.15' }
    // Thirty-one clicks a minute apart, inside one clock hour, spread over two ads and two batches.
    const hour = Date.parse('2026-11-25T08:00:00.000Z')
    const clicks = Array.from({ length: 31 }, (_, i) =>
      click(i % 2 ? other : ad, { ...viewer, received_at: new Date(hour + i * 60_000).toISOString() }),
    )
    await recordClicks({ topic, partition: 5, records: records(clicks.slice(0, 20), 0) }, stores())
    const second = await recordClicks(
      { topic, partition: 5, records: records(clicks.slice(20), 20) },
      stores(),
    )
    expect(second?.invalid).toEqual({ over_budget: 1 })
    expect((await redisCount(ad)) + (await redisCount(other))).toBe(30)
  })

  it('keeps the first verdict when a click is redelivered, even if the rules would now judge it otherwise', async () => {
    const ad = await newAd()
    const viewer = { ip: '192.0.2.100', user_agent: 'Mozilla/5.0 Chrome/126.0' }
    const batch = records([click(ad, viewer), click(ad, viewer)])
    await recordClicks({ topic, partition: 6, records: batch }, stores())
    await real.redis.del(keys.appliedOffset(topic, 6)) // make Redis apply the redelivery again
    await real.db.sql`update ads set status = 'paused' where id = ${ad}`
    await recordClicks({ topic, partition: 6, records: batch }, stores())
    const reasons = await real.db.sql<{ invalid_reason: string | null }[]>`
      select invalid_reason from clicks where ad_id = ${ad} order by kafka_offset`
    expect(reasons.map((r) => r.invalid_reason)).toEqual([null, 'repeat'])
    // Applied twice on purpose above, and both times by the stored verdict: one valid, one repeat each.
    expect(await real.redis.hgetall(keys.invalid(ad))).toEqual({ repeat: '2' })
    expect(await redisCount(ad)).toBe(2)
  })

  it('keeps per-minute buckets, top-ads minutes and the Postgres rollup, once each on redelivery', async () => {
    const ad = await newAd()
    const minute = Date.parse('2026-11-25T09:30:00.000Z')
    const at = (ms: number) => new Date(minute + ms).toISOString()
    const batch = records([
      click(ad, { received_at: at(0), playback_time: 5 }),
      click(ad, { received_at: at(59_999), playback_time: 7 }), // last millisecond of the minute
      click(ad, { received_at: at(60_000), playback_time: 9 }), // first of the next
      click(ad, { received_at: at(61_000), user_agent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' }),
    ])
    await recordClicks({ topic, partition: 7, records: batch }, stores())
    await recordClicks({ topic, partition: 7, records: batch }, stores())
    const epoch = minute / 60_000
    expect(await real.redis.hgetall(keys.minute(ad, epoch))).toEqual({ v: '2' })
    expect(await real.redis.hgetall(keys.minute(ad, epoch + 1))).toEqual({ v: '1', i: '1' })
    expect(await real.redis.zscore(keys.topMinute(epoch), ad)).toBe('2')
    expect(await real.redis.zscore(keys.topMinute(epoch + 1), ad)).toBe('1')
    expect(await real.redis.ttl(keys.minute(ad, epoch))).toBeGreaterThan(3600)
    const rollup = await real.db.sql<
      { minute: Date; valid: number; invalid: number; playback_sum: string; invalid_bot: number }[]
    >`
      select minute, valid, invalid, playback_sum::text, invalid_bot from click_minutes
      where ad_id = ${ad} order by minute`
    expect(
      rollup.map((r) => [r.minute.toISOString(), r.valid, r.invalid, r.playback_sum, r.invalid_bot]),
    ).toEqual([
      ['2026-11-25T09:30:00.000Z', 2, 0, '12', 0],
      ['2026-11-25T09:31:00.000Z', 1, 1, '9', 1],
    ])
  })

  it('says which store failed, so failures can be counted by store', async () => {
    const ad = await newAd()
    const deadPort = await freePort()
    const deadRedis = createRedis(`redis://127.0.0.1:${deadPort}`, { failFast: true })
    deadRedis.on('error', () => {})
    const deadSql = createSql(`postgres://postgres@127.0.0.1:${deadPort}/none`, { max: 1 })
    try {
      const noRedis = { ...stores(), counters: new RedisCounters(deadRedis, keys) }
      const redisFailure = await recordClicks(
        { topic, partition: 8, records: records([click(ad)]) },
        noRedis,
      ).catch((err) => err)
      expect(redisFailure).toBeInstanceOf(StoreError)
      expect(redisFailure.store).toBe('redis')
      const noPostgres = { ...stores(), sql: deadSql }
      const pgFailure = await recordClicks(
        { topic, partition: 8, records: records([click(ad)], 1) },
        noPostgres,
      ).catch((err) => err)
      expect(pgFailure).toBeInstanceOf(StoreError)
      expect(pgFailure.store).toBe('postgres')
    } finally {
      deadRedis.disconnect()
      await deadSql.end({ timeout: 1 })
    }
  })

  it('keeps each partition’s applied offset apart', async () => {
    const ad = await newAd()
    await recordClicks({ topic, partition: 0, records: records([click(ad)], 50) }, stores())
    // A lower offset on another partition is new work, not a redelivery.
    await recordClicks({ topic, partition: 1, records: records([click(ad)], 5) }, stores())
    expect(await redisCount(ad)).toBe(2)
    expect(await real.redis.get(keys.appliedOffset(topic, 0))).toBe('50')
    expect(await real.redis.get(keys.appliedOffset(topic, 1))).toBe('5')
  })
})
