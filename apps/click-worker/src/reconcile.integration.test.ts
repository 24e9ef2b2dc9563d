import { randomBytes } from 'node:crypto'
import { type AdEvent, type ClickMessage, type EventMessage, redisKeys } from '@adtrack/contracts'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, insertAds, stack, uniqueName } from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { insertClicks, insertEvents } from './postgres-store.js'
import { ReconcileBusyError, reconcileCounts } from './reconcile.js'
import { type ClickStores, recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'
import { ReconcilingError } from './store-errors.js'

// Each test gets its own database (so Postgres holds only its clicks), key prefix and topic name.
let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let keys: ReturnType<typeof redisKeys>
let stores: ClickStores
let topic: string
let seq = 0

beforeAll(async () => {
  redis = createRedis(stack().redisUrl)
})
afterAll(async () => {
  await redis?.quit()
})
beforeEach(async () => {
  db = await createTestDatabase()
  keys = redisKeys(`${uniqueName('rec')}:`)
  topic = uniqueName('topic')
  // Classification off (no repeat window, no budget): these tests are about counting, not judging.
  stores = {
    sql: db.sql,
    counters: new RedisCounters(redis, keys),
    deadLetters: { send: async () => {} },
    rules: { repeatWindowMs: 0, hourlyBudget: 1_000_000 },
  }
  await insertAds(db.sql, [{ id: 'a' }, { id: 'b' }])
  return () => db.drop()
})

function click(adId: string, ip = `203.0.113.${++seq % 250}`): ClickMessage {
  seq++
  return {
    v: 1,
    click_id: `${uniqueName('c')}-${seq}`,
    ad_id: adId,
    playback_time: 1,
    received_at: new Date().toISOString(),
    ip,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) TestPlayer/1.0',
  }
}
const asRecords = (clicks: ClickMessage[], first: number) =>
  clicks.map((c, i) => ({ offset: String(first + i), value: Buffer.from(JSON.stringify(c)) }))
const count = async (adId: string) => Number((await redis.get(keys.clickCount(adId))) ?? 0)

function event(type: AdEvent, impressionId: string, over: Partial<EventMessage> = {}): EventMessage {
  seq++
  return {
    v: 2,
    type,
    impression_id: impressionId,
    ad_id: 'a',
    served_at: new Date(Date.now() - 5000).toISOString(),
    received_at: new Date().toISOString(),
    ip: `198.51.100.${seq % 250}`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) TestPlayer/2.0',
    ...over,
  } as EventMessage
}
const impression = () => randomBytes(16).toString('base64url')
const eventRecords = (messages: (EventMessage | ClickMessage)[], first: number) =>
  messages.map((m, i) => ({ offset: String(first + i), value: Buffer.from(JSON.stringify(m)) }))

/**
 * Every counter under this test's prefix, as readers see it: hashes, sorted sets and counts whole,
 * HyperLogLogs by their count, zero sums as missing. The applied marks and the lock are the worker's bookkeeping, not counts.
 */
async function counters() {
  const prefix = keys.clickCount('x').split('ad:')[0] as string
  const state: Record<string, unknown> = {}
  for (const key of (await redis.keys(`${prefix}*`)).sort()) {
    if (key.includes('applied:') || key.includes('reconcile-lock:')) continue
    const type = await redis.type(key)
    if (type === 'hash') state[key] = await redis.hgetall(key)
    else if (type === 'zset') state[key] = await redis.zrange(key, 0, -1, 'WITHSCORES')
    else if (key.endsWith('viewers')) state[key] = await redis.pfcount(key)
    else {
      // A sum of zero reads as a missing key: the worker's INCRBY 0 leaves one, the rebuild does not.
      const value = await redis.get(key)
      if (value !== '0') state[key] = value
    }
  }
  return state
}

/** Deletes every key under this test's prefix: what a Redis restart without persistence does. */
async function loseRedisData() {
  const found = await redis.keys(`${keys.clickCount('x').split('ad:')[0]}*`)
  if (found.length) await redis.del(...found)
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

    const result = await reconcileCounts({ sql: db.sql, redis, keys, topic })
    expect(result.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', postgres: 4, redis: 1, drift: -3 }),
        expect.objectContaining({ adId: 'b', postgres: 3, redis: 0, drift: -3 }),
      ]),
    )
    expect(await count('a')).toBe(4)
    expect(await count('b')).toBe(3)
    expect(await redis.pfcount(keys.viewers('a'))).toBe(3)
    // The per-minute buckets and top-ads scores are back as well.
    const minute = Math.floor(Date.now() / 60_000)
    const near = [minute - 1, minute, minute + 1]
    const buckets = await Promise.all(near.map((m) => redis.hget(keys.minute('a', m), 'v')))
    expect(buckets.reduce((sum, v) => sum + Number(v ?? 0), 0)).toBe(4)
    const scores = await Promise.all(near.map((m) => redis.zscore(keys.topMinute(m), 'b')))
    expect(scores.reduce((sum, v) => sum + Number(v ?? 0), 0)).toBe(3)
    // A redelivery of the old batches after the repair changes nothing.
    await recordClicks({ topic, partition: 1, records: partition1 }, stores)
    expect(await count('a')).toBe(4)
    expect(await count('b')).toBe(3)
    expect((await reconcileCounts({ sql: db.sql, redis, keys, topic })).drifted).toEqual([])
  })

  it('leaves clicks Postgres holds above the applied mark to the worker, so none is counted twice', async () => {
    const batch1 = [click('a'), click('a')]
    const batch2 = [click('a'), click('a'), click('a')]
    await recordClicks({ topic, partition: 0, records: asRecords(batch1, 0) }, stores)
    // The worker wrote the next batch to Postgres and died before Redis.
    await insertClicks(
      db.sql,
      batch2.map((c, i) => ({
        click: c,
        partition: 0,
        offset: String(2 + i),
        viewerId: `v${i}`,
        reason: null,
      })),
    )
    const result = await reconcileCounts({ sql: db.sql, redis, keys, topic })
    expect(result.drifted).toEqual([])
    expect(await count('a')).toBe(2)
    // Kafka redelivers the batch; now it counts, once.
    await recordClicks({ topic, partition: 0, records: asRecords(batch2, 2) }, stores)
    expect(await count('a')).toBe(5)
  })

  it('repairs over-counting, and with repair off only reports', async () => {
    await recordClicks({ topic, partition: 0, records: asRecords([click('a'), click('a')], 0) }, stores)
    await redis.incrby(keys.clickCount('a'), 5)
    await redis.set(keys.clickCount('ghost'), 9)
    const report = await reconcileCounts({ sql: db.sql, redis, keys, topic, repair: false })
    expect(report.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', postgres: 2, redis: 7, drift: 5, mismatched: ['clicks'] }),
        expect.objectContaining({ adId: 'ghost', postgres: 0, redis: 9, drift: 9 }),
      ]),
    )
    expect(await count('a')).toBe(7)
    await reconcileCounts({ sql: db.sql, redis, keys, topic })
    expect(await count('a')).toBe(2)
    expect(await redis.exists(keys.clickCount('ghost'))).toBe(0)
  })

  it('restores every event counter exactly after Redis lost its data, and reports the events’ drift', async () => {
    const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)'
    const [i1, i2, i3] = [impression(), impression(), impression()]
    await recordClicks(
      {
        topic,
        partition: 0,
        records: eventRecords(
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
        records: eventRecords(
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

    const result = await reconcileCounts({ sql: db.sql, redis, keys, topic })
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
        records: eventRecords([event('impression', i3, { received_at: minuteAgo })], 0),
      },
      stores,
    )
    expect(await counters()).toEqual(before)
    expect((await reconcileCounts({ sql: db.sql, redis, keys, topic })).drifted).toEqual([])
  })

  it('repairs over-counted events, and leaves events above the applied mark to the worker', async () => {
    const imp = impression()
    await recordClicks({ topic, partition: 0, records: eventRecords([event('impression', imp)], 0) }, stores)
    const counted = await counters()
    // The worker wrote the next batch to Postgres and died before Redis.
    const next = [event('start', imp), event('midpoint', imp)]
    await insertEvents(
      db.sql,
      next.map((e, i) => ({
        event: e,
        partition: 0,
        offset: String(1 + i),
        viewerId: `v${i}`,
        reason: null,
        errorCode: null,
      })),
    )
    await redis.hincrby(keys.events('a'), 'impression', 4)
    await redis.hset(keys.errors('ghost'), '900', 3)
    const report = await reconcileCounts({ sql: db.sql, redis, keys, topic, repair: false })
    expect(report.drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adId: 'a', drift: 0, mismatched: ['events'], events: { impression: 4 } }),
        expect.objectContaining({ adId: 'ghost', mismatched: ['errors'], events: {} }),
      ]),
    )
    expect(await redis.hget(keys.events('a'), 'impression')).toBe('5')
    await reconcileCounts({ sql: db.sql, redis, keys, topic })
    expect(await counters()).toEqual(counted)
    // Kafka redelivers the batch; now it counts, once.
    await recordClicks({ topic, partition: 0, records: eventRecords(next, 1) }, stores)
    expect(await redis.hgetall(keys.events('a'))).toEqual({ impression: '1', start: '1', midpoint: '1' })
  })

  it('makes the worker wait while it runs, and refuses to run twice at once', async () => {
    await redis.set(keys.reconcileLock(topic), 'someone-else', 'PX', 10_000)
    await expect(
      recordClicks({ topic, partition: 0, records: asRecords([click('a')], 0) }, stores),
    ).rejects.toBeInstanceOf(ReconcilingError)
    await expect(reconcileCounts({ sql: db.sql, redis, keys, topic })).rejects.toBeInstanceOf(
      ReconcileBusyError,
    )
    await redis.del(keys.reconcileLock(topic))
    await recordClicks({ topic, partition: 0, records: asRecords([click('a')], 0) }, stores)
    expect(await count('a')).toBe(1)
  })
})
