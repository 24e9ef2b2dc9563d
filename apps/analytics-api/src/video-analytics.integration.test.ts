import {
  type AdEvent,
  impressionClickId,
  MINUTE_BUCKET_TTL_SECONDS,
  noPlaybackEvents,
} from '@adtrack/contracts'
import { insertAds, uniqueName } from '@adtrack/test-support'
import { beforeAll, describe, expect, it } from 'vitest'
import { SOURCE_HEADER } from './counts-source.js'
import { analyticsApp } from './testing/analytics-app.js'
import { noEventTotals, noVideoFigures } from './testing/no-events.js'

// The video figures of GET /ads/analytics, the time series and GET /ads/top, from stores seeded exactly as
// the click-worker is specified to write them (docs/api.md, contracts' redisKeys and migration 0007):
// Postgres rows and rollups, Redis counters, HyperLogLogs, minute hashes and sorted sets, the same data in
// both, so that a reply from either store can be compared with the other's.

const api = analyticsApp('video', { withoutRedis: true })
const { keys } = api
const MINUTE = 60_000
const nowMinute = Math.floor(Date.now() / MINUTE)
const M1 = nowMinute - 5
const M2 = nowMinute - 3

type Event = Exclude<AdEvent, 'click'>
interface Seed {
  ad: string
  impression: string
  event: Event
  /** Epoch minute it was received in; `second` places it inside the minute. */
  minute: number
  second?: number
  viewer: string
  errorCode?: number
  bot?: boolean
}

let offset = 0

/** Stores events as the worker does: ad_events rows and event_minutes, and every Redis key of events. */
async function recordEvents(seeds: Seed[]) {
  const rows = seeds.map((s) => ({
    impression_id: s.impression,
    event: s.event,
    ad_id: s.ad,
    served_at: new Date(s.minute * MINUTE),
    received_at: new Date(s.minute * MINUTE + (s.second ?? 0) * 1000),
    viewer_id: s.viewer,
    ip: '10.0.0.1',
    user_agent: s.bot ? 'Googlebot/2.1' : 'Mozilla/5.0',
    error_code: s.errorCode ?? null,
    ad_playhead: null,
    invalid_reason: s.bot ? 'bot' : null,
    kafka_partition: 0,
    kafka_offset: offset++,
  }))
  await api.db.sql`insert into ad_events ${api.db.sql(rows)}`
  for (const s of seeds) {
    await api.db.sql`insert into event_minutes (ad_id, minute, event, error_code, valid, invalid)
      values (${s.ad}, ${new Date(s.minute * MINUTE)}, ${s.event}, ${s.errorCode ?? 0}, ${s.bot ? 0 : 1}, ${s.bot ? 1 : 0})
      on conflict (ad_id, minute, event, error_code) do update
      set valid = event_minutes.valid + excluded.valid, invalid = event_minutes.invalid + excluded.invalid`
  }
  const write = api.redis.multi()
  for (const s of seeds) {
    if (s.bot) {
      write.hincrby(keys.invalidEvents(s.ad), s.event, 1)
      continue
    }
    const minute = keys.minute(s.ad, s.minute)
    write.hincrby(keys.events(s.ad), s.event, 1).hincrby(minute, `e:${s.event}`, 1)
    if (s.event === 'error') {
      const code = s.errorCode ? String(s.errorCode) : 'unknown'
      write.hincrby(keys.errors(s.ad), code, 1).hincrby(minute, `x:${code}`, 1)
    }
    if (s.event === 'impression') {
      write
        .pfadd(keys.impressionViewers(s.ad), s.viewer)
        .zincrby(keys.topImpressionsMinute(s.minute), 1, s.ad)
        .expire(keys.topImpressionsMinute(s.minute), MINUTE_BUCKET_TTL_SECONDS)
    }
    write.expire(minute, MINUTE_BUCKET_TTL_SECONDS)
  }
  await write.exec()
}

/** Stores one valid click as the worker does (the impression's click when `impression` is given). */
async function recordClick(ad: string, minute: number, viewer: string, impression?: string) {
  const id = impression ? impressionClickId(impression) : uniqueName('click')
  await api.db
    .sql`insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition,
      kafka_offset, viewer_id, invalid_reason, impression_id)
    values (${id}, ${ad}, 5, ${new Date(minute * MINUTE + 1000)}, '10.0.0.1', 'Mozilla/5.0', 0, ${offset++},
      ${viewer}, null, ${impression ?? null})`
  await api.db
    .sql`insert into click_minutes (ad_id, minute, valid, invalid) values (${ad}, ${new Date(minute * MINUTE)}, 1, 0)
    on conflict (ad_id, minute) do update set valid = click_minutes.valid + 1`
  await api.redis
    .multi()
    .incr(keys.clickCount(ad))
    .pfadd(keys.viewers(ad), viewer)
    .incrby(keys.playbackSum(ad), 5)
    .hincrby(keys.minute(ad, minute), 'v', 1)
    .zincrby(keys.topMinute(minute), 1, ad)
    .exec()
}

/** Every event of one impression, in order. */
const impression = (
  ad: string,
  id: string,
  minute: number,
  viewer: string,
  events: Event[],
  extra: Partial<Seed> = {},
): Seed[] =>
  (['impression', ...events] as Event[]).map((event, i) => ({
    ad,
    impression: id,
    event,
    minute,
    second: i,
    viewer,
    ...extra,
  }))

const QUARTILES: Event[] = ['start', 'first_quartile', 'midpoint', 'third_quartile', 'complete']

beforeAll(async () => {
  await insertAds(api.db.sql, [{ id: 'video' }, { id: 'silent' }, { id: 'popular' }, { id: 'tiny' }])

  // video: 4 impressions by 3 viewers; 3 play to the end, one skips and fails (405); one more fails
  // without a code; a bot's impression and start; one click, through the first impression.
  await recordEvents([
    ...impression('video', 'imp-v1', M1, 'v1', [...QUARTILES, 'pause', 'resume']),
    ...impression('video', 'imp-v2', M1, 'v2', [...QUARTILES, 'mute', 'error']),
    ...impression('video', 'imp-v3', M2, 'v3', QUARTILES),
    ...impression('video', 'imp-v4', M2, 'v3', ['start', 'skip']),
    {
      ad: 'video',
      impression: 'imp-v4',
      event: 'error',
      minute: M2,
      second: 30,
      viewer: 'v3',
      errorCode: 405,
    },
    ...impression('video', 'imp-bot', M1, 'bot', ['start'], { bot: true }),
  ])
  await recordClick('video', M1, 'v1', 'imp-v1')
  // silent: clicks, no impression yet.
  for (const v of ['s1', 's2', 's3']) await recordClick('silent', M2, v)
  // popular: 6 impressions, 1 click; tiny: 1 impression, 1 click (ctr 1, under any sensible floor).
  await recordEvents(
    [1, 2, 3, 4, 5, 6].flatMap((n) => impression('popular', `imp-p${n}`, n % 2 ? M1 : M2, `p${n}`, [])),
  )
  await recordClick('popular', M2, 'p1', 'imp-p1')
  await recordEvents(impression('tiny', 'imp-t1', M2, 't1', ['start']))
  await recordClick('tiny', M2, 't1', 'imp-t1')
})

const iso = (epochMinute: number) => new Date(epochMinute * MINUTE).toISOString()

describe('GET /ads/analytics: video figures', () => {
  it('answers null rates and every event at zero for an ad without impressions', async () => {
    for (const source of [api.app, api.withoutRedis]) {
      const body = (await source.inject('/ads/analytics?ad_id=silent')).json()
      expect(body).toMatchObject({ click_count: 3, unique_viewers: 3 })
      expect(body).toMatchObject(noEventTotals())
    }
  })

  it('answers exact ratios, events, errors by code, impression viewers and bots from Redis', async () => {
    const res = await api.app.inject('/ads/analytics?ad_id=video')
    expect(res.statusCode).toBe(200)
    expect(res.headers[SOURCE_HEADER]).toBe('redis')
    expect(res.json()).toEqual({
      ad_id: 'video',
      click_count: 1,
      unique_viewers: 1,
      invalid_click_count: 0,
      invalid_clicks: { bot: 0, repeat: 0, over_budget: 0, inactive_ad: 0 },
      avg_playback_time: 5,
      impressions: 4,
      ctr: 0.25,
      completion_rate: 0.75,
      events: {
        start: 4,
        first_quartile: 3,
        midpoint: 3,
        third_quartile: 3,
        complete: 3,
        skip: 1,
        pause: 1,
        resume: 1,
        mute: 1,
        unmute: 0,
      },
      errors: { '405': 1, unknown: 1 },
      unique_impression_viewers: 3,
      invalid_event_count: 2,
    })
  })

  it('answers the same from Postgres while Redis is down', async () => {
    for (const ad of ['video', 'popular', 'tiny', 'silent']) {
      const fromRedis = await api.app.inject(`/ads/analytics?ad_id=${ad}`)
      const fromPostgres = await api.withoutRedis.inject(`/ads/analytics?ad_id=${ad}`)
      expect(fromPostgres.headers[SOURCE_HEADER]).toBe('postgres')
      expect(fromPostgres.json(), ad).toEqual(fromRedis.json())
    }
  })

  it('counts exactly the events received in [from, to), and agrees with the time series', async () => {
    // M2 without its last 30 seconds: the 405 error (second 30 of imp-v4) is left out.
    const from = iso(M2)
    const to = new Date(M2 * MINUTE + 30_000).toISOString()
    const res = await api.app.inject(`/ads/analytics?ad_id=video&from=${from}&to=${to}`)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      click_count: 0,
      impressions: 2,
      ctr: 0,
      completion_rate: 0.5,
      events: { start: 2, complete: 1, skip: 1, first_quartile: 1 },
      errors: {},
      unique_impression_viewers: 1,
      invalid_event_count: 0,
    })
    // The whole minute is the time series' bucket, from Redis.
    const whole = (await api.app.inject(`/ads/analytics?ad_id=video&from=${from}&to=${iso(M2 + 1)}`)).json()
    const series = await api.app.inject(`/ads/video/analytics/timeseries?from=${from}&to=${iso(M2 + 1)}`)
    expect(series.headers[SOURCE_HEADER]).toBe('redis')
    const [bucket] = series.json().buckets
    for (const field of ['click_count', 'impressions', 'ctr', 'completion_rate', 'events', 'errors'])
      expect(bucket[field], field).toEqual(whole[field])
    expect(whole.errors).toEqual({ '405': 1 })
  })
})

describe('GET /ads/:id/analytics/timeseries: video figures', () => {
  const url = `/ads/video/analytics/timeseries?from=${iso(M1)}&to=${iso(M2 + 1)}`

  it('answers each bucket its impressions, rates, events and errors; empty ones null-rated', async () => {
    const res = await api.app.inject(url)
    expect(res.statusCode).toBe(200)
    expect(res.headers[SOURCE_HEADER]).toBe('redis')
    const buckets = res.json().buckets
    expect(buckets).toHaveLength(3)
    expect(buckets[0]).toEqual({
      start: iso(M1),
      click_count: 1,
      invalid_click_count: 0,
      impressions: 2,
      ctr: 0.5,
      completion_rate: 1,
      events: {
        ...noPlaybackEvents(),
        start: 2,
        first_quartile: 2,
        midpoint: 2,
        third_quartile: 2,
        complete: 2,
        pause: 1,
        resume: 1,
        mute: 1,
      },
      errors: { unknown: 1 },
    })
    expect(buckets[1]).toEqual({
      start: iso(M1 + 1),
      click_count: 0,
      invalid_click_count: 0,
      ...noVideoFigures(),
    })
    expect(buckets[2]).toMatchObject({ impressions: 2, ctr: 0, completion_rate: 0.5, errors: { '405': 1 } })
  })

  it('gives the same buckets from Postgres when Redis cannot answer, by minute and by hour', async () => {
    for (const u of [
      url,
      `/ads/video/analytics/timeseries?granularity=hour&from=${iso(M1)}&to=${iso(M2 + 1)}`,
    ]) {
      const fromRedis = await api.app.inject(u)
      const fromPostgres = await api.withoutRedis.inject(u)
      expect(fromPostgres.headers[SOURCE_HEADER]).toBe('postgres')
      expect(fromPostgres.json()).toEqual(fromRedis.json())
    }
  })
})

describe('GET /ads/top: by impressions and by ctr', () => {
  const top = async (query: string, source = api.app) => {
    const res = await source.inject(`/ads/top?window=30m&${query}`)
    expect(res.statusCode, query).toBe(200)
    return res.json()
  }
  const video = { ad_id: 'video', click_count: 1, impressions: 4, ctr: 0.25 }
  const popular = { ad_id: 'popular', click_count: 1, impressions: 6, ctr: 1 / 6 }
  const tiny = { ad_id: 'tiny', click_count: 1, impressions: 1, ctr: 1 }
  const silent = { ad_id: 'silent', click_count: 3, impressions: 0, ctr: null }

  it('ranks by clicks by default, every entry with its impressions and ctr', async () => {
    const body = await top('')
    expect(body.metric).toBe('clicks')
    expect(body.ads).toEqual([silent, popular, tiny, video])
  })

  it('ranks by impressions, ads without one left out', async () => {
    expect((await top('metric=impressions')).ads).toEqual([popular, video, tiny])
  })

  it('ranks by ctr above the min_impressions floor (100 by default)', async () => {
    expect((await top('metric=ctr&min_impressions=4')).ads).toEqual([video, popular])
    expect((await top('metric=ctr&min_impressions=1&limit=2')).ads).toEqual([tiny, video])
    expect((await top('metric=ctr')).ads).toEqual([])
  })

  it('ranks the same from Postgres when Redis cannot answer', async () => {
    for (const query of ['', 'metric=impressions', 'metric=ctr&min_impressions=1']) {
      const fromRedis = await top(query)
      const res = await api.withoutRedis.inject(`/ads/top?window=30m&${query}`)
      expect(res.headers[SOURCE_HEADER]).toBe('postgres')
      expect(res.json().ads, query).toEqual(fromRedis.ads)
    }
  })

  it('refuses an unknown metric and a floor below 1', async () => {
    expect((await api.app.inject('/ads/top?metric=views')).statusCode).toBe(400)
    expect((await api.app.inject('/ads/top?metric=ctr&min_impressions=0')).statusCode).toBe(400)
  })
})
