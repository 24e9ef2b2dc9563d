import { type AdEvent, type EventMessage, type RedisKeys, redisKeys } from '@adtrack/contracts'
import { insertAds, uniqueName } from '@adtrack/test-support'
import { beforeEach, describe, expect, it } from 'vitest'
import { insertClicks, insertEvents } from './postgres-store.js'
import { ReconcileBusyError, reconcileCounts } from './reconcile.js'
import { type ClickStores, recordClicks } from './record-clicks.js'
import { ReconcilingError } from './store-errors.js'
import {
  asRecords,
  clickMessage,
  eventMessage,
  newImpressionId as impression,
  workerStores,
} from './testing/worker-stores.js'

// Each test gets its own database (so Postgres holds only its clicks), key prefix and topic name.
const real = workerStores({ databasePerTest: true })
let keys: RedisKeys
let stores: ClickStores
let topic: string

beforeEach(async () => {
  keys = redisKeys(`${uniqueName('rec')}:`)
  topic = uniqueName('topic')
  // Classification off (no repeat window, no budget): these tests are about counting, not judging.
  stores = real.clickStores(
    keys,
    { send: async () => {} },
    { rules: { repeatWindowMs: 0, hourlyBudget: 1_000_000 } },
  )
  await insertAds(real.db.sql, [{ id: 'a' }, { id: 'b' }])
})

const click = (adId: string, ip?: string) => clickMessage(adId, ip === undefined ? {} : { ip })
const event = (type: AdEvent, impressionId: string, over: Partial<EventMessage> = {}) =>
  eventMessage(type, impressionId, 'a', over)
const count = async (adId: string) => Number((await real.redis.get(keys.clickCount(adId))) ?? 0)

/**
 * Every counter under this test's prefix, as readers see it: hashes, sorted sets and counts whole,
 * HyperLogLogs by their count, zero sums as missing. The applied marks and the lock are the worker's bookkeeping, not counts.
 */
async function counters() {
  const prefix = keys.clickCount('x').split('ad:')[0] as string
  const state: Record<string, unknown> = {}
  for (const key of (await real.redis.keys(`${prefix}*`)).sort()) {
    if (key.includes('applied:') || key.includes('reconcile-lock:')) continue
    const type = await real.redis.type(key)
    if (type === 'hash') state[key] = await real.redis.hgetall(key)
    else if (type === 'zset') state[key] = await real.redis.zrange(key, 0, -1, 'WITHSCORES')
    else if (key.endsWith('viewers')) state[key] = await real.redis.pfcount(key)
    else {
      // A sum of zero reads as a missing key: the worker's INCRBY 0 leaves one, the rebuild does not.
      const value = await real.redis.get(key)
      if (value !== '0') state[key] = value
    }
  }
  return state
}

/** Deletes every key under this test's prefix: what a Redis restart without persistence does. */
async function loseRedisData() {
  const found = await real.redis.keys(`${keys.clickCount('x').split('ad:')[0]}*`)
  if (found.length) await real.redis.del(...found)
}

describe('reconcileCounts', () => {
  it('restores exact counts and viewers after Redis lost its data, and reports the drift', async () => {
    await recordClicks(
      {
        topic,
        partition: 0,
        records: asRecords([click('a', '1.1.1.1'), click('a', '1.1.1.2'), click('b')], 0),
      },
      stores,
    )
    const partition1 = asRecords([click('a', '1.1.1.1'), click('b'), click('b')], 0)
    await recordClicks({ topic, partition: 1, records: partition1 }, stores)
    await loseRedisData()
    // New clicks keep arriving after the restart.
    await recordClicks({ topic, partition: 0, records: asRecords([click('a', '1.1.1.3')], 3) }, stores)
    expect(await count('a')).toBe(1)

    const result = await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })
    expect(result.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', postgres: 4, redis: 1, drift: -3 }),
        expect.objectContaining({ adId: 'b', postgres: 3, redis: 0, drift: -3 }),
      ]),
    )
    expect(await count('a')).toBe(4)
    expect(await count('b')).toBe(3)
    expect(await real.redis.pfcount(keys.viewers('a'))).toBe(3)
    // The per-minute buckets and top-ads scores are back as well.
    const minute = Math.floor(Date.now() / 60_000)
    const near = [minute - 1, minute, minute + 1]
    const buckets = await Promise.all(near.map((m) => real.redis.hget(keys.minute('a', m), 'v')))
    expect(buckets.reduce((sum, v) => sum + Number(v ?? 0), 0)).toBe(4)
    const scores = await Promise.all(near.map((m) => real.redis.zscore(keys.topMinute(m), 'b')))
    expect(scores.reduce((sum, v) => sum + Number(v ?? 0), 0)).toBe(3)
    // A redelivery of the old batches after the repair changes nothing.
    await recordClicks({ topic, partition: 1, records: partition1 }, stores)
    expect(await count('a')).toBe(4)
    expect(await count('b')).toBe(3)
    expect((await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })).drifted).toEqual([])
  })

  it('leaves clicks Postgres holds above the applied mark to the worker, so none is counted twice', async () => {
    const batch1 = [click('a'), click('a')]
    const batch2 = [click('a'), click('a'), click('a')]
    await recordClicks({ topic, partition: 0, records: asRecords(batch1, 0) }, stores)
    // The worker wrote the next batch to Postgres and died before Redis.
    await insertClicks(
      real.db.sql,
      batch2.map((c, i) => ({
        click: c,
        partition: 0,
        offset: String(2 + i),
        viewerId: `v${i}`,
        reason: null,
      })),
    )
    const result = await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })
    expect(result.drifted).toEqual([])
    expect(await count('a')).toBe(2)
    // Kafka redelivers the batch; now it counts, once.
    await recordClicks({ topic, partition: 0, records: asRecords(batch2, 2) }, stores)
    expect(await count('a')).toBe(5)
  })

  it('repairs over-counting, and with repair off only reports', async () => {
    await recordClicks({ topic, partition: 0, records: asRecords([click('a'), click('a')], 0) }, stores)
    await real.redis.incrby(keys.clickCount('a'), 5)
    await real.redis.set(keys.clickCount('ghost'), 9)
    const report = await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic, repair: false })
    expect(report.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', postgres: 2, redis: 7, drift: 5, mismatched: ['clicks'] }),
        expect.objectContaining({ adId: 'ghost', postgres: 0, redis: 9, drift: 9 }),
      ]),
    )
    expect(await count('a')).toBe(7)
    await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })
    expect(await count('a')).toBe(2)
    expect(await real.redis.exists(keys.clickCount('ghost'))).toBe(0)
  })

  it('restores every event counter exactly after Redis lost its data, and reports the events’ drift', async () => {
    const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)'
    const [i1, i2, i3] = [impression(), impression(), impression()]
    await recordClicks(
      {
        topic,
        partition: 0,
        records: asRecords(
          [
            event('impression', i1),
            event('start', i1),
            event('error', i1, { error_code: 402 }),
            event('impression', i2, { ad_id: 'b', viewer_id: 'device-2' }),
            event('click', i2, { ad_id: 'b' }),
            click('a'),
          ],
          0,
        ),
      },
      stores,
    )
    const minuteAgo = new Date(Date.now() - 61_000).toISOString()
    await recordClicks(
      {
        topic,
        partition: 1,
        records: asRecords(
          [
            event('impression', i3, { received_at: minuteAgo }),
            event('complete', i3, { received_at: minuteAgo }),
            event('error', i3, { received_at: minuteAgo }),
            event('impression', impression(), { user_agent: BOT }),
            event('midpoint', impression(), { user_agent: BOT }),
          ],
          0,
        ),
      },
      stores,
    )
    const before = await counters()
    expect(Object.keys(before).length).toBeGreaterThan(10)
    await loseRedisData()

    const result = await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })
    expect(result.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          adId: 'a',
          drift: -1,
          mismatched: ['clicks', 'playback', 'events', 'invalid_events', 'errors'],
          events: { impression: -2, start: -1, error: -2, complete: -1 },
        }),
        expect.objectContaining({ adId: 'b', drift: -1, events: { impression: -1 } }),
      ]),
    )
    expect(await counters()).toEqual(before)
    // A redelivery of the old batches after the repair changes nothing, and nothing drifts any more.
    await recordClicks(
      {
        topic,
        partition: 1,
        records: asRecords([event('impression', i3, { received_at: minuteAgo })], 0),
      },
      stores,
    )
    expect(await counters()).toEqual(before)
    expect((await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })).drifted).toEqual([])
  })

  it('repairs over-counted events, and leaves events above the applied mark to the worker', async () => {
    const imp = impression()
    await recordClicks({ topic, partition: 0, records: asRecords([event('impression', imp)], 0) }, stores)
    const counted = await counters()
    // The worker wrote the next batch to Postgres and died before Redis.
    const next = [event('start', imp), event('midpoint', imp)]
    await insertEvents(
      real.db.sql,
      next.map((e, i) => ({
        event: e,
        partition: 0,
        offset: String(1 + i),
        viewerId: `v${i}`,
        reason: null,
        errorCode: null,
      })),
    )
    await real.redis.hincrby(keys.events('a'), 'impression', 4)
    await real.redis.hset(keys.errors('ghost'), '900', 3)
    const report = await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic, repair: false })
    expect(report.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', drift: 0, mismatched: ['events'], events: { impression: 4 } }),
        expect.objectContaining({ adId: 'ghost', mismatched: ['errors'], events: {} }),
      ]),
    )
    expect(await real.redis.hget(keys.events('a'), 'impression')).toBe('5')
    await reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic })
    expect(await counters()).toEqual(counted)
    // Kafka redelivers the batch; now it counts, once.
    await recordClicks({ topic, partition: 0, records: asRecords(next, 1) }, stores)
    expect(await real.redis.hgetall(keys.events('a'))).toEqual({ impression: '1', start: '1', midpoint: '1' })
  })

  it('makes the worker wait while it runs, and refuses to run twice at once', async () => {
    await real.redis.set(keys.reconcileLock(topic), 'someone-else', 'PX', 10_000)
    await expect(
      recordClicks({ topic, partition: 0, records: asRecords([click('a')], 0) }, stores),
    ).rejects.toBeInstanceOf(ReconcilingError)
    await expect(
      reconcileCounts({ sql: real.db.sql, redis: real.redis, keys, topic }),
    ).rejects.toBeInstanceOf(ReconcileBusyError)
    await real.redis.del(keys.reconcileLock(topic))
    await recordClicks({ topic, partition: 0, records: asRecords([click('a')], 0) }, stores)
    expect(await count('a')).toBe(1)
  })
})
