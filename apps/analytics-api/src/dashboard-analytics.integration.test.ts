import { AnalyticsConfig, MAX_ANALYTICS_ADS, type Overview, redisKeys } from '@adtrack/contracts'
import { freePort } from '@adtrack/local-stack'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, insertAds, stack, uniqueName } from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildApp } from './app.js'
import { DEGRADED_HEADER, SOURCE_HEADER } from './counts-source.js'
import { HISTORY_TTL_MS, SNAPSHOT_TTL_MS } from './overview-source.js'
import { analyticsStores } from './stores.js'

// GET /analytics/overview and GET /analytics/ads against stores seeded as the click-worker writes them
// (the rollups with their per-reason columns, migration 0008; Redis's counters and top-ads minutes), in a
// database of their own, so that the whole system's totals are exactly what is seeded here.

let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let deadRedis: Redis
const keys = redisKeys(`${uniqueName('overview')}:`)
const MINUTE = 60_000
/** The overview's clock: 20 s into 10:30 UTC. */
const NOW = Date.parse('2026-03-10T10:30:20.000Z')
const CUR = Math.floor(NOW / MINUTE)
const YESTERDAY_2350 = Date.parse('2026-03-09T23:50:00.000Z') / MINUTE
type App = Awaited<ReturnType<typeof buildApp>>
const apps: App[] = []

/** An app over the test's stores, its clock set by `clock.now`; `traffic` to count its reads. */
async function appWith(client: Redis, clock = { now: NOW }) {
  const stores = analyticsStores(db.sql, client, keys)
  const app = await buildApp(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent' }), {
    ...stores,
    registry: new Registry(),
    readiness: new Readiness({}),
    now: () => clock.now,
  })
  apps.push(app)
  return { app, traffic: stores.traffic, clock }
}

type Reason = 'bot' | 'repeat' | 'over_budget' | 'inactive_ad'

/** One ad's clicks in one minute, in click_minutes as insertClicks rolls them up. */
async function clickMinute(
  ad: string,
  minute: number,
  valid: number,
  invalid: Partial<Record<Reason, number>> = {},
) {
  const n = (r: Reason) => invalid[r] ?? 0
  await db.sql`insert into click_minutes (ad_id, minute, valid, invalid, invalid_bot, invalid_repeat,
      invalid_over_budget, invalid_inactive_ad)
    values (${ad}, ${new Date(minute * MINUTE)}, ${valid}, ${n('bot') + n('repeat') + n('over_budget') + n('inactive_ad')},
      ${n('bot')}, ${n('repeat')}, ${n('over_budget')}, ${n('inactive_ad')})`
}

/** One ad's events of one type in one minute, in event_minutes as insertEvents rolls them up. */
async function eventMinute(ad: string, minute: number, event: string, valid: number, invalid = 0, code = 0) {
  await db.sql`insert into event_minutes (ad_id, minute, event, error_code, valid, invalid)
    values (${ad}, ${new Date(minute * MINUTE)}, ${event}, ${code}, ${valid}, ${invalid})`
}

/** Valid clicks and impressions of an ad in a minute's top-ads sorted sets, as the worker's script adds them. */
async function topMinute(ad: string, minute: number, clicks: number, impressions: number) {
  if (clicks) await redis.zadd(keys.topMinute(minute), clicks, ad)
  if (impressions) await redis.zadd(keys.topImpressionsMinute(minute), impressions, ad)
}

beforeAll(async () => {
  db = await createTestDatabase()
  redis = createRedis(stack().redisUrl)
  deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`)
  deadRedis.on('error', () => {})
  // The last hour: the current minute, the one before, and the chart's first (CUR - 60).
  await clickMinute('a', CUR, 3, { bot: 1 })
  await clickMinute('b', CUR - 1, 2, { repeat: 2 })
  await clickMinute('a', CUR - 60, 1)
  await eventMinute('a', CUR, 'impression', 10, 2)
  await eventMinute('a', CUR, 'start', 6)
  await eventMinute('a', CUR, 'complete', 4)
  await eventMinute('b', CUR - 1, 'impression', 5)
  await eventMinute('b', CUR - 1, 'error', 1, 0, 405)
  // Earlier today (one minute before the last hour), and yesterday evening.
  await clickMinute('a', CUR - 61, 5, { over_budget: 1, inactive_ad: 1 })
  await eventMinute('c', CUR - 61, 'impression', 20)
  await clickMinute('c', YESTERDAY_2350, 7, { bot: 3 })
  await eventMinute('c', YESTERDAY_2350, 'impression', 30, 5)
  // More than 48 hours ago: in no total.
  await clickMinute('c', CUR - 49 * 60, 100)
  // The top ads' window (the last 5 minutes), and a minute just before it.
  await topMinute('a', CUR, 3, 10)
  await topMinute('b', CUR - 1, 2, 25)
  await topMinute('c', CUR - 4, 1, 40)
  await topMinute('d', CUR - 5, 100, 1000)
})

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()))
  deadRedis?.disconnect()
  await redis?.quit()
  await db?.drop()
})

const overviewOf = async (app: App, query = '') => {
  const res = await app.inject(`/analytics/overview${query}`)
  expect(res.statusCode).toBe(200)
  return res.json() as Overview
}

describe('GET /analytics/overview', () => {
  it('sums the last hour and today from the rollups, invalid traffic by reason included', async () => {
    const { app } = await appWith(redis)
    const body = await overviewOf(app)
    expect(body.generated_at).toBe(new Date(NOW).toISOString())
    expect(body.last_hour).toEqual({
      from: new Date((CUR - 60) * MINUTE).toISOString(),
      to: new Date((CUR + 1) * MINUTE).toISOString(),
      impressions: 15,
      click_count: 6,
      completes: 4,
      ctr: 6 / 15,
      completion_rate: 4 / 15,
      invalid_clicks: { bot: 1, repeat: 2, over_budget: 0, inactive_ad: 0 },
      invalid_events: 2,
      // (3 invalid clicks + 2 invalid events) / (6 + 3 clicks, 26 + 2 events)
      invalid_share: 5 / 37,
    })
    expect(body.today).toEqual({
      from: '2026-03-10T00:00:00.000Z',
      to: new Date((CUR + 1) * MINUTE).toISOString(),
      impressions: 35,
      click_count: 11,
      completes: 4,
      ctr: 11 / 35,
      completion_rate: 4 / 35,
      invalid_clicks: { bot: 1, repeat: 2, over_budget: 1, inactive_ad: 1 },
      invalid_events: 2,
      invalid_share: 7 / 64,
    })
  })

  it('starts today at the minute of today_from, up to 48 hours back', async () => {
    const { app } = await appWith(redis)
    // A viewer at UTC+01:00, whose midnight was 23:00 UTC, given with seconds.
    const body = await overviewOf(app, '?today_from=2026-03-10T00:00:30%2B01:00')
    expect(body.today).toMatchObject({
      from: '2026-03-09T23:00:00.000Z',
      impressions: 65,
      click_count: 18,
      invalid_clicks: { bot: 4, repeat: 2, over_budget: 1, inactive_ad: 1 },
      invalid_events: 7,
      invalid_share: 15 / 109,
    })
    const earliest = new Date((CUR - 48 * 60) * MINUTE).toISOString()
    expect((await overviewOf(app, `?today_from=${earliest}`)).today.click_count).toBe(18)
  })

  it('refuses a today_from more than 48 hours back or in a minute to come, and one that is no time', async () => {
    const { app } = await appWith(redis)
    for (const from of [
      new Date((CUR - 48 * 60 - 1) * MINUTE).toISOString(),
      new Date((CUR + 1) * MINUTE).toISOString(),
      '1970-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '2026-03-09T23:59:60Z',
    ]) {
      const res = await app.inject(`/analytics/overview?today_from=${encodeURIComponent(from)}`)
      expect(res.statusCode, from).toBe(400)
      expect(res.json()).toMatchObject({ code: 'BAD_TIME_RANGE' })
    }
    for (const query of ['?today_from=yesterday', '?today_from=', '?today_from=2026-03-10']) {
      const res = await app.inject(`/analytics/overview${query}`)
      expect(res.statusCode, query).toBe(400)
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' })
    }
    // The current minute itself is today's start for a viewer whose midnight it is.
    const now = new Date(NOW).toISOString()
    expect((await overviewOf(app, `?today_from=${now}`)).today.click_count).toBe(3)
  })

  it('lists the last 60 whole minutes and the current one, oldest first, every one present', async () => {
    const { app } = await appWith(redis)
    const { minutes } = await overviewOf(app)
    expect(minutes).toHaveLength(61)
    minutes.forEach((m, i) => {
      expect(m.start).toBe(new Date((CUR - 60 + i) * MINUTE).toISOString())
    })
    const nonZero = minutes.filter((m) => m.impressions || m.click_count)
    expect(nonZero).toEqual([
      { start: new Date((CUR - 60) * MINUTE).toISOString(), impressions: 0, click_count: 1 },
      { start: new Date((CUR - 1) * MINUTE).toISOString(), impressions: 5, click_count: 2 },
      { start: new Date(CUR * MINUTE).toISOString(), impressions: 10, click_count: 3 },
    ])
  })

  it('ranks the top ads of the last 5 minutes by clicks, impressions and ctr (20 impressions at least)', async () => {
    const { app } = await appWith(redis)
    const { top } = await overviewOf(app)
    expect(top.clicks.map((ad) => [ad.ad_id, ad.click_count])).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ])
    expect(top.impressions.map((ad) => [ad.ad_id, ad.impressions])).toEqual([
      ['c', 40],
      ['b', 25],
      ['a', 10],
    ])
    // a's 3 clicks on 10 impressions are under the floor.
    expect(top.ctr).toEqual([
      { ad_id: 'b', click_count: 2, impressions: 25, ctr: 0.08 },
      { ad_id: 'c', click_count: 1, impressions: 40, ctr: 0.025 },
    ])
  })

  it('reads the top ads from the rollups when Redis is down, and says so', async () => {
    const { app } = await appWith(deadRedis)
    const res = await app.inject('/analytics/overview')
    expect(res.statusCode).toBe(200)
    expect(res.headers[DEGRADED_HEADER]).toBe('redis-unavailable')
    const body = res.json() as Overview
    expect(body.top.clicks.map((ad) => [ad.ad_id, ad.click_count, ad.impressions])).toEqual([
      ['a', 3, 10],
      ['b', 2, 5],
    ])
    expect(body.last_hour.click_count).toBe(6)
  })

  it('answers a weak ETag of its content and 304 to If-None-Match while nothing changed', async () => {
    const { app, clock } = await appWith(redis)
    const first = await app.inject('/analytics/overview')
    const etag = first.headers.etag as string
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/)
    expect(first.headers['cache-control']).toBe('no-cache')
    const same = await app.inject({ url: '/analytics/overview', headers: { 'if-none-match': etag } })
    expect(same.statusCode).toBe(304)
    expect(same.body).toBe('')
    expect(same.headers.etag).toBe(etag)
    expect(same.headers['cache-control']).toBe('no-cache')
    // The strong form and a list match too (weak comparison); another tag does not.
    for (const header of [etag.slice(2), `W/"x", ${etag}`, '*']) {
      const res = await app.inject({ url: '/analytics/overview', headers: { 'if-none-match': header } })
      expect(res.statusCode, header).toBe(304)
    }
    const other = await app.inject({ url: '/analytics/overview', headers: { 'if-none-match': 'W/"x"' } })
    expect(other.statusCode).toBe(200)
    // A later read with the same figures keeps the tag, though generated_at moved.
    clock.now += SNAPSHOT_TTL_MS
    const later = await app.inject({ url: '/analytics/overview', headers: { 'if-none-match': etag } })
    expect(later.statusCode).toBe(304)
    // New traffic changes it.
    await clickMinute('e', CUR, 1)
    clock.now += SNAPSHOT_TTL_MS
    const changed = await app.inject({ url: '/analytics/overview', headers: { 'if-none-match': etag } })
    expect(changed.statusCode).toBe(200)
    expect(changed.headers.etag).not.toBe(etag)
    expect((changed.json() as Overview).last_hour.click_count).toBe(7)
    await db.sql`delete from click_minutes where ad_id = 'e'`
  })

  it('shares one read of the stores among every request within a second, whatever its today_from', async () => {
    const { app, traffic, clock } = await appWith(redis)
    const reads = vi.spyOn(traffic, 'minutes')
    const ask = (query = '') => app.inject(`/analytics/overview${query}`)
    // Concurrent requests, as N dashboards polling at once.
    const replies = await Promise.all([ask(), ask(), ask('?today_from=2026-03-09T23:00:00Z'), ask()])
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200])
    expect(reads).toHaveBeenCalledTimes(1)
    clock.now += SNAPSHOT_TTL_MS - 1
    await ask('?today_from=2026-03-10T05:30:00Z')
    expect(reads).toHaveBeenCalledTimes(1)
    // A second later: only the minutes after the kept history are read again.
    clock.now += 1
    await ask()
    expect(reads).toHaveBeenCalledTimes(2)
    const [from, to] = reads.mock.calls[1] as [number, number]
    expect((to - from) / MINUTE).toBe(62)
    // After HISTORY_TTL_MS, all 48 hours again.
    clock.now += HISTORY_TTL_MS
    await ask()
    expect(reads).toHaveBeenCalledTimes(3)
    const [allFrom, allTo] = reads.mock.calls[2] as [number, number]
    expect((allTo - allFrom) / MINUTE).toBe(48 * 60 + 1)
  })
})

describe('GET /analytics/ads', () => {
  beforeAll(async () => {
    await insertAds(db.sql, [{ id: 'x' }, { id: 'y' }, { id: 'z' }])
    const at = new Date(NOW)
    await db.sql`insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent,
        kafka_partition, kafka_offset, viewer_id, invalid_reason) values
      ('x1', 'x', 10, ${at}, '10.0.0.1', 'Mozilla/5.0', 0, 1, 'v1', null),
      ('x2', 'x', 20, ${at}, '10.0.0.2', 'Mozilla/5.0', 0, 2, 'v2', null),
      ('x3', 'x', 5, ${at}, '10.0.0.3', 'Googlebot/2.1', 0, 3, 'v3', 'bot'),
      ('y1', 'y', 7, ${at}, '10.0.0.1', 'Mozilla/5.0', 0, 4, 'v1', null)`
    await db.sql`insert into ad_events (impression_id, event, ad_id, served_at, received_at, viewer_id, ip,
        user_agent, kafka_partition, kafka_offset) values
      ('imp-y', 'impression', 'y', ${at}, ${at}, 'v1', '10.0.0.1', 'Mozilla/5.0', 0, 5),
      ('imp-y', 'complete', 'y', ${at}, ${at}, 'v1', '10.0.0.1', 'Mozilla/5.0', 0, 6)`
    await redis
      .multi()
      .set(keys.clickCount('x'), 2)
      .pfadd(keys.viewers('x'), 'v1', 'v2')
      .hset(keys.invalid('x'), 'bot', 1)
      .set(keys.playbackSum('x'), 30)
      .set(keys.clickCount('y'), 1)
      .pfadd(keys.viewers('y'), 'v1')
      .set(keys.playbackSum('y'), 7)
      .hset(keys.events('y'), { impression: 1, complete: 1 })
      .pfadd(keys.impressionViewers('y'), 'v1')
      .exec()
  })

  it('answers each known ad as GET /ads/analytics does, in the order named, unknown ids left out', async () => {
    for (const client of [redis, deadRedis]) {
      const { app } = await appWith(client)
      const res = await app.inject('/analytics/ads?ids=y,nobody,x,z,y')
      expect(res.statusCode).toBe(200)
      expect(res.headers[SOURCE_HEADER]).toBe(client === redis ? 'redis' : 'postgres')
      const { ads } = res.json() as { ads: { ad_id: string }[] }
      expect(ads.map((ad) => ad.ad_id)).toEqual(['y', 'x', 'z'])
      for (const ad of ads) {
        expect(ad).toEqual((await app.inject(`/ads/analytics?ad_id=${ad.ad_id}`)).json())
      }
      expect(ads[1]).toMatchObject({ click_count: 2, unique_viewers: 2, invalid_clicks: { bot: 1 } })
      expect(ads[0]).toMatchObject({ impressions: 1, completion_rate: 1, click_count: 1 })
      expect((await app.inject('/analytics/ads?ids=nobody,none')).json()).toEqual({ ads: [] })
    }
  })

  it(`refuses more than ${MAX_ANALYTICS_ADS} ids, and an id that is not an ad id`, async () => {
    const { app } = await appWith(redis)
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `ad-${i}`).join(',')
    expect((await app.inject(`/analytics/ads?ids=${ids(MAX_ANALYTICS_ADS)}`)).statusCode).toBe(200)
    const tooMany = await app.inject(`/analytics/ads?ids=${ids(MAX_ANALYTICS_ADS + 1)}`)
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json()).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(tooMany.json().message).toMatch(/1 to 100 ad ids/)
    for (const bad of ['x,,y', 'x,', ',x', 'x,-y', `x,${'a'.repeat(65)}`, 'x,%C3%A9', 'x%2C%20y', '%00']) {
      const res = await app.inject(`/analytics/ads?ids=${bad}`)
      expect(res.statusCode, bad).toBe(400)
      expect(res.json(), bad).toMatchObject({ code: 'VALIDATION_FAILED' })
    }
    for (const query of ['', '?ids=']) {
      expect((await app.inject(`/analytics/ads${query}`)).statusCode, query).toBe(400)
    }
  })
})
