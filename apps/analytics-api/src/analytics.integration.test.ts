import { AnalyticsConfig } from '@adtrack/contracts'
import { createSql } from '@adtrack/db'
import { freePort } from '@adtrack/local-stack'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import { insertAds, uniqueName } from '@adtrack/test-support'
import { Registry } from 'prom-client'
import { beforeAll, describe, expect, it } from 'vitest'
import { AdStore } from './ad-store.js'
import { buildApp } from './app.js'
import { DEGRADED_HEADER } from './counts-source.js'
import { analyticsStores } from './stores.js'
import { analyticsApp } from './testing/analytics-app.js'
import { noEventTotals } from './testing/no-events.js'

const api = analyticsApp('an', {
  deps: (redis) => ({ readiness: new Readiness({ redis: async () => void (await redis.ping()) }) }),
})
const { keys } = api
/** The video figures of an ad without any event (video-analytics.integration.test.ts has the rest). */
const NO_EVENTS = noEventTotals()

beforeAll(async () => {
  await insertAds(api.db.sql, [{ id: 'a1', title: 'First' }, { id: 'a2' }, { id: 'a3', status: 'paused' }])
})

describe('GET /ads', () => {
  it('answers a bare JSON array of ads in creation order', async () => {
    const res = await api.app.inject('/ads')
    expect(res.statusCode).toBe(200)
    const ads = res.json()
    expect(Array.isArray(ads)).toBe(true)
    expect(ads.map((a: { id: string }) => a.id)).toEqual(['a1', 'a2', 'a3'])
    expect(ads[0]).toEqual({
      id: 'a1',
      title: 'First',
      image_url: 'https://example.com/a1.jpg',
      target_url: 'https://example.com/a1',
      status: 'active',
      media: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
  })

  it('pages with limit and offset, and refuses a bad limit', async () => {
    const page = await api.app.inject('/ads?limit=1&offset=1')
    expect(page.json().map((a: { id: string }) => a.id)).toEqual(['a2'])
    const bad = await api.app.inject('/ads?limit=0')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toMatch(/limit/)
  })
})

describe('GET /ads/:id', () => {
  it('answers one ad, or 404 for an unknown id', async () => {
    expect((await api.app.inject('/ads/a3')).json()).toMatchObject({ id: 'a3', status: 'paused' })
    const missing = await api.app.inject('/ads/nope')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ statusCode: 404, code: 'AD_NOT_FOUND' })
  })
})

describe('GET /ads/analytics', () => {
  it('answers the counts the worker keeps in Redis', async () => {
    await api.redis.set(keys.clickCount('a1'), 42)
    await api.redis.pfadd(keys.viewers('a1'), 'v1', 'v2', 'v3')
    await api.redis.hset(keys.invalid('a1'), { bot: 4, repeat: 2 })
    await api.redis.set(keys.playbackSum('a1'), 42 * 15 + 21)
    const res = await api.app.inject('/ads/analytics?ad_id=a1')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      ad_id: 'a1',
      click_count: 42,
      unique_viewers: 3,
      invalid_click_count: 6,
      invalid_clicks: { bot: 4, repeat: 2, over_budget: 0, inactive_ad: 0 },
      avg_playback_time: 15.5,
      ...NO_EVENTS,
    })
  })

  it('answers zero for a known ad that has no clicks yet', async () => {
    expect((await api.app.inject('/ads/analytics?ad_id=a2')).json()).toEqual({
      ad_id: 'a2',
      click_count: 0,
      unique_viewers: 0,
      invalid_click_count: 0,
      invalid_clicks: { bot: 0, repeat: 0, over_budget: 0, inactive_ad: 0 },
      avg_playback_time: 0,
      ...NO_EVENTS,
    })
  })

  it('answers 400 without ad_id and 404 for an unknown ad', async () => {
    const missing = await api.app.inject('/ads/analytics')
    expect(missing.statusCode).toBe(400)
    expect(missing.json().message).toMatch(/ad_id/)
    const unknown = await api.app.inject('/ads/analytics?ad_id=nope')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().message).toMatch(/nope/)
  })
})

describe('AdStore.exists', () => {
  it('asks Postgres until an ad exists, then answers from memory (ids are never deleted or reused)', async () => {
    const store = new AdStore(api.db.sql)
    const id = uniqueName('later')
    expect(await store.exists(id)).toBe(false)
    await insertAds(api.db.sql, [{ id }])
    // A no is not remembered: the ad created since is found.
    expect(await store.exists(id)).toBe(true)
    // A yes is: even a row removed behind its back (which the services never do) still answers yes.
    await api.db.sql`delete from ads where id = ${id}`
    expect(await store.exists(id)).toBe(true)
    expect(await new AdStore(api.db.sql).exists(id)).toBe(false)
  })
})

describe('probes and errors', () => {
  it('serves /livez, /readyz and a JSON 404 for unknown routes, echoing the request id', async () => {
    expect((await api.app.inject('/livez')).statusCode).toBe(200)
    expect((await api.app.inject('/readyz')).json()).toMatchObject({
      status: 'ready',
      checks: { redis: 'ok' },
    })
    const res = await api.app.inject({ url: '/nowhere', headers: { 'x-request-id': 'req-123' } })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' })
    expect(res.headers['x-request-id']).toBe('req-123')
  })
})

describe('when a store is down', () => {
  /** An app whose Redis and/or Postgres point at a port where nothing listens. */
  async function appWith(opts: { redisDown?: boolean; postgresDown?: boolean }) {
    const deadPort = await freePort()
    const deadRedis = createRedis(`redis://127.0.0.1:${deadPort}`)
    deadRedis.on('error', () => {})
    const deadSql = createSql(`postgres://postgres@127.0.0.1:${deadPort}/none`, { max: 1 })
    const sql = opts.postgresDown ? deadSql : api.db.sql
    const app = await buildApp(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent' }), {
      ...analyticsStores(sql, opts.redisDown ? deadRedis : api.redis, keys),
      registry: new Registry(),
      readiness: new Readiness({}),
    })
    return {
      app,
      close: async () => {
        await app.close()
        deadRedis.disconnect()
        await deadSql.end({ timeout: 1 })
      },
    }
  }

  it('answers exact counts from Postgres, marked degraded, while Redis is down', async () => {
    await api.db
      .sql`insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset, viewer_id, invalid_reason)
      values ('pg-only-1', 'a2', 10, now(), '1.1.1.1', 'ua', 0, 1, 'v1', null), ('pg-only-2', 'a2', 20, now(), '1.1.1.2', 'ua', 0, 2, 'v2', null),
             ('pg-only-3', 'a2', 30, now(), '1.1.1.1', 'ua', 0, 3, 'v1', null), ('pg-only-4', 'a2', 1, now(), '1.1.1.9', 'bot', 0, 4, 'v9', 'bot')`
    const { app, close } = await appWith({ redisDown: true })
    try {
      const res = await app.inject('/ads/analytics?ad_id=a2')
      expect(res.statusCode).toBe(200)
      expect(res.headers[DEGRADED_HEADER]).toBe('redis-unavailable')
      expect(res.json()).toEqual({
        ad_id: 'a2',
        click_count: 3,
        unique_viewers: 2,
        invalid_click_count: 1,
        invalid_clicks: { bot: 1, repeat: 0, over_budget: 0, inactive_ad: 0 },
        avg_playback_time: 20,
        ...NO_EVENTS,
      })
      expect((await app.inject('/ads/analytics?ad_id=nope')).statusCode).toBe(404)
    } finally {
      await close()
    }
  })

  it('answers counts from Redis, marked degraded, while Postgres is down', async () => {
    const { app, close } = await appWith({ postgresDown: true })
    try {
      const res = await app.inject('/ads/analytics?ad_id=a1')
      expect(res.statusCode).toBe(200)
      expect(res.headers[DEGRADED_HEADER]).toBe('postgres-unavailable')
      expect(res.json().click_count).toBe(42)
    } finally {
      await close()
    }
  })

  it('answers 503 with Retry-After only when neither store can answer', async () => {
    const { app, close } = await appWith({ redisDown: true, postgresDown: true })
    try {
      const res = await app.inject('/ads/analytics?ad_id=a1')
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('5')
      expect(res.json()).toMatchObject({ statusCode: 503, code: 'STORES_UNAVAILABLE' })
    } finally {
      await close()
    }
  })
})
