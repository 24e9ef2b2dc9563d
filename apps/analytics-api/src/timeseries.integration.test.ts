import { insertAds } from '@adtrack/test-support'
import { beforeAll, describe, expect, it } from 'vitest'
import { SOURCE_HEADER } from './counts-source.js'
import { analyticsApp } from './testing/analytics-app.js'
import { noVideoFigures } from './testing/no-events.js'

const api = analyticsApp('ts', { withoutRedis: true })
const { keys } = api
const MINUTE = 60_000
const nowMinute = Math.floor(Date.now() / MINUTE)
/** A bucket's video figures without events (video-analytics.integration.test.ts has them with). */
const NO_EVENTS = noVideoFigures()

/** The same per-minute counts in both stores, as the worker writes them. */
async function putMinute(adId: string, epochMinute: number, valid: number, invalid = 0) {
  const fields: Record<string, number> = {}
  if (valid) fields.v = valid
  if (invalid) fields.i = invalid
  await api.redis.hset(keys.minute(adId, epochMinute), fields)
  if (valid) await api.redis.zadd(keys.topMinute(epochMinute), valid, adId)
  await api.db.sql`insert into click_minutes (ad_id, minute, valid, invalid) values
    (${adId}, ${new Date(epochMinute * MINUTE)}, ${valid}, ${invalid})`
}

beforeAll(async () => {
  await insertAds(api.db.sql, [{ id: 'hot' }, { id: 'warm' }, { id: 'cold' }])
  // Recent minutes (Redis and Postgres), and a day three days ago (Postgres only, as after expiry).
  await putMinute('hot', nowMinute - 3, 4, 1)
  await putMinute('hot', nowMinute - 1, 2)
  await putMinute('hot', nowMinute, 5)
  await putMinute('warm', nowMinute, 3)
  await putMinute('warm', nowMinute - 4, 9)
  await putMinute('cold', nowMinute - 10, 50)
  const old = Math.floor((Date.now() - 3 * 86_400_000) / 86_400_000) * 1440 // a UTC midnight, in minutes
  await api.db.sql`insert into click_minutes (ad_id, minute, valid, invalid) values
    ('hot', ${new Date((old + 59) * MINUTE)}, 1, 0), ('hot', ${new Date((old + 60) * MINUTE)}, 2, 1),
    ('hot', ${new Date((old + 23 * 60 + 59) * MINUTE)}, 7, 0)`
})

const iso = (epochMinute: number) => new Date(epochMinute * MINUTE).toISOString()

describe('GET /ads/:id/analytics/timeseries', () => {
  it('answers recent minutes from Redis, every bucket present, empty ones as zero', async () => {
    const res = await api.app.inject(
      `/ads/hot/analytics/timeseries?from=${iso(nowMinute - 4)}&to=${iso(nowMinute + 1)}`,
    )
    expect(res.statusCode).toBe(200)
    expect(res.headers[SOURCE_HEADER]).toBe('redis')
    expect(res.json().buckets).toEqual([
      { start: iso(nowMinute - 4), click_count: 0, invalid_click_count: 0, ...NO_EVENTS },
      { start: iso(nowMinute - 3), click_count: 4, invalid_click_count: 1, ...NO_EVENTS },
      { start: iso(nowMinute - 2), click_count: 0, invalid_click_count: 0, ...NO_EVENTS },
      { start: iso(nowMinute - 1), click_count: 2, invalid_click_count: 0, ...NO_EVENTS },
      { start: iso(nowMinute), click_count: 5, invalid_click_count: 0, ...NO_EVENTS },
    ])
  })

  it('gives the same reply from Postgres when Redis cannot answer', async () => {
    const url = `/ads/hot/analytics/timeseries?from=${iso(nowMinute - 4)}&to=${iso(nowMinute + 1)}`
    const fromRedis = await api.app.inject(url)
    const fromPostgres = await api.withoutRedis.inject(url)
    expect(fromPostgres.headers[SOURCE_HEADER]).toBe('postgres')
    expect(fromPostgres.json()).toEqual(fromRedis.json())
  })

  it('answers older ranges from the Postgres rollup, in UTC hours with minute-boundary clicks in the right hour', async () => {
    const day = Math.floor((Date.now() - 3 * 86_400_000) / 86_400_000) * 86_400_000
    const res = await api.app.inject(
      `/ads/hot/analytics/timeseries?granularity=hour&from=${new Date(day).toISOString()}&to=${new Date(day + 86_400_000).toISOString()}`,
    )
    expect(res.statusCode).toBe(200)
    expect(res.headers[SOURCE_HEADER]).toBe('postgres')
    const buckets = res.json().buckets as {
      start: string
      click_count: number
      invalid_click_count: number
    }[]
    expect(buckets).toHaveLength(24)
    expect(buckets[0]).toEqual({
      start: new Date(day).toISOString(),
      click_count: 1,
      invalid_click_count: 0,
      ...NO_EVENTS,
    })
    expect(buckets[1]).toMatchObject({ click_count: 2, invalid_click_count: 1 })
    expect(buckets[23]).toMatchObject({ click_count: 7 })
    expect(buckets.slice(2, 23).every((b) => b.click_count === 0 && b.invalid_click_count === 0)).toBe(true)
  })

  it('refuses too many buckets, an empty range and an unknown ad', async () => {
    const tooMany = await api.app.inject(
      `/ads/hot/analytics/timeseries?granularity=minute&from=${iso(nowMinute - 2 * 1440)}&to=${iso(nowMinute)}`,
    )
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json()).toMatchObject({
      code: 'TOO_MANY_BUCKETS',
      message: expect.stringMatching(/2880 minute buckets/),
    })
    const backwards = await api.app.inject(
      `/ads/hot/analytics/timeseries?from=${iso(nowMinute)}&to=${iso(nowMinute - 5)}`,
    )
    expect(backwards.statusCode).toBe(400)
    const badGranularity = await api.app.inject('/ads/hot/analytics/timeseries?granularity=week')
    expect(badGranularity.statusCode).toBe(400)
    expect((await api.app.inject('/ads/nope/analytics/timeseries')).statusCode).toBe(404)
  })
})

describe('GET /ads/top', () => {
  it('ranks ads by valid clicks over the sliding window', async () => {
    // What the data above says for a window starting at `from` (the reply's own, in case a minute
    // boundary passes while the test runs).
    const recent: [string, number, number][] = [
      ['hot', nowMinute - 3, 4],
      ['hot', nowMinute - 1, 2],
      ['hot', nowMinute, 5],
      ['warm', nowMinute, 3],
      ['warm', nowMinute - 4, 9],
      ['cold', nowMinute - 10, 50],
    ]
    const expected = (fromIso: string, limit = 10) => {
      const fromMinute = Date.parse(fromIso) / MINUTE
      const sums = new Map<string, number>()
      for (const [ad, m, n] of recent) if (m >= fromMinute) sums.set(ad, (sums.get(ad) ?? 0) + n)
      return [...sums]
        .map(([ad_id, click_count]) => ({ ad_id, click_count, impressions: 0, ctr: null }))
        .sort((a, b) => b.click_count - a.click_count || a.ad_id.localeCompare(b.ad_id))
        .slice(0, limit)
    }
    for (const [window, limit] of [
      ['2m', 10],
      ['5m', 1],
      ['11m', 10],
    ] as const) {
      const res = await api.app.inject(`/ads/top?window=${window}&limit=${limit}`)
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body.ads, window).toEqual(expected(body.from, limit))
      expect(body.ads.length, window).toBeGreaterThan(0)
    }
    // With no minute boundary in between, the ranking is exactly this:
    const eleven = await api.app.inject('/ads/top?window=11m')
    if (Date.parse(eleven.json().from) / MINUTE === nowMinute - 10) {
      expect(eleven.json().ads.map((a: { ad_id: string }) => a.ad_id)).toEqual(['cold', 'warm', 'hot'])
    }
  })

  it('ranks the same from Postgres when Redis cannot answer', async () => {
    const fromRedis = await api.app.inject('/ads/top?window=11m')
    const fromPostgres = await api.withoutRedis.inject('/ads/top?window=11m')
    expect(fromPostgres.headers[SOURCE_HEADER]).toBe('postgres')
    expect(fromPostgres.json().ads).toEqual(fromRedis.json().ads)
  })

  it('refuses a window outside 1m-60m', async () => {
    for (const window of ['0m', '61m', '5', '1h']) {
      expect((await api.app.inject(`/ads/top?window=${window}`)).statusCode, window).toBe(400)
    }
  })
})

describe('GET /ads/analytics with from and to', () => {
  it('counts exactly the clicks received in [from, to)', async () => {
    const t = Date.parse('2026-11-20T12:00:00.000Z')
    const row = (id: string, ms: number, reason: string | null, viewer: string) => ({
      click_id: id,
      ad_id: 'cold',
      playback_time: 10,
      received_at: new Date(t + ms),
      ip: '1.1.1.1',
      user_agent: 'ua',
      kafka_partition: 0,
      kafka_offset: Number(id.slice(1)),
      viewer_id: viewer,
      invalid_reason: reason,
    })
    const rows = [
      row('r1', -1, null, 'v1'), // just before
      row('r2', 0, null, 'v1'), // at from: in
      row('r3', 30_000, 'repeat', 'v1'),
      row('r4', 59_999, null, 'v2'),
      row('r5', 60_000, null, 'v3'), // at to: out
    ]
    await api.db.sql`insert into clicks ${api.db.sql(rows)}`
    const res = await api.app.inject(
      `/ads/analytics?ad_id=cold&from=${new Date(t).toISOString()}&to=${new Date(t + 60_000).toISOString()}`,
    )
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      ad_id: 'cold',
      click_count: 2,
      unique_viewers: 2,
      invalid_click_count: 1,
      invalid_clicks: { repeat: 1 },
    })
  })
})
