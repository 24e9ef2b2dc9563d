import { AnalyticsConfig, redisKeys } from '@adtrack/contracts'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, insertAds, stack, uniqueName } from '@adtrack/test-support'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from './app.js'
import { analyticsStores } from './stores.js'

// Input meant to hurt, each once a 500 (a Postgres error, an allocation failure) or a 404 where the
// answer is a 405: every one must be a 4xx in the ErrorBody shape, checked before any query.

const KEY = 'hostile-admin-key-0123456789'
const admin = { authorization: `Bearer ${KEY}` }
const valid = { title: 'Winter sale', image_url: 'https://e.com/w.jpg', target_url: 'https://e.com/w' }
const TEXT_RULE = 'control characters or invalid Unicode'

let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let app: FastifyInstance

beforeAll(async () => {
  db = await createTestDatabase()
  redis = createRedis(stack().redisUrl)
  await insertAds(db.sql, [{ id: 'existing' }])
  app = await buildApp(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent', ADMIN_API_KEYS: KEY }), {
    ...analyticsStores(db.sql, redis, redisKeys(`${uniqueName('hostile')}:`)),
    registry: new Registry(),
    readiness: new Readiness({}),
  })
})
afterAll(async () => {
  await app?.close()
  await redis?.quit()
  await db?.drop()
})

const send = (method: 'POST' | 'PATCH', url: string, payload: unknown) =>
  app.inject({
    method,
    url,
    headers: { ...admin, 'content-type': 'application/json' },
    payload: payload as InjectOptions['payload'],
  })

function expect400(res: { statusCode: number; json(): unknown }, code: string, message: string | RegExp) {
  expect(res.statusCode).toBe(400)
  expect(res.json()).toEqual({
    statusCode: 400,
    error: 'Bad Request',
    message: expect.stringMatching(message),
    code,
  })
}

describe('numeric query parameters are bounded', () => {
  it.each([
    ['/ads?offset=764947715231931637574926336', /^querystring\/offset must be <= 1000000$/],
    ['/ads?offset=1000001', /offset must be <= 1000000/],
    ['/ads?limit=1001', /limit must be <= 1000/],
    ['/ads/top?limit=101', /limit must be <= 100/],
  ])('%s is a 400', async (url, message) => {
    expect400(await app.inject(url), 'VALIDATION_FAILED', message)
  })

  it('the deepest offset allowed answers an empty page', async () => {
    const res = await app.inject('/ads?offset=1000000')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual([])
  })
})

describe('admin text with control characters or invalid Unicode', () => {
  it.each([
    ['a NUL title', { ...valid, title: 'Winter\u0000sale' }, 'body/title'],
    ['a title with a C1 control', { ...valid, title: 'Winter\u0085sale' }, 'body/title'],
    ['an image_url with U+0001', { ...valid, image_url: 'https://e.com/\u0001.jpg' }, 'body/image_url'],
    ['a target_url with NEL', { ...valid, target_url: 'https://e.com/\u0085' }, 'body/target_url'],
  ])('POST /ads with %s is a 400 naming the field', async (_what, body, field) => {
    expect400(await send('POST', '/ads', body), 'VALIDATION_FAILED', new RegExp(`^${field} .*${TEXT_RULE}`))
  })

  it('POST /ads with a "\\ud800" escape in the title is a 400, and nothing is stored', async () => {
    const payload = JSON.stringify({ ...valid, id: 'surrogate-ad' }).replace('Winter sale', 'Winter \\ud800')
    expect400(await send('POST', '/ads', payload), 'VALIDATION_FAILED', /^body\/title .*invalid Unicode/)
    expect((await app.inject('/ads/surrogate-ad')).statusCode).toBe(404)
  })

  it('PATCH /ads/:id with a NUL title is a 400 and the ad keeps its title', async () => {
    const before = (await app.inject('/ads/existing')).json().title
    expect400(
      await send('PATCH', '/ads/existing', { title: 'x\u0000' }),
      'VALIDATION_FAILED',
      /^body\/title /,
    )
    expect((await app.inject('/ads/existing')).json().title).toBe(before)
  })

  it('a title with a tab and an emoji is stored as sent', async () => {
    const res = await send('POST', '/ads', { ...valid, title: 'Sale\t\uD83C\uDF84' })
    expect(res.statusCode).toBe(201)
    expect(res.json().title).toBe('Sale\t\uD83C\uDF84')
  })
})

describe('time ranges', () => {
  const series = (query: string) => app.inject(`/ads/existing/analytics/timeseries?${query}`)
  const analytics = (query: string) => app.inject(`/ads/analytics?ad_id=existing&${query}`)

  it('centuries back by the minute is TOO_MANY_BUCKETS, counted before anything is built', async () => {
    expect400(
      await series('from=1500-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=minute'),
      'TOO_MANY_BUCKETS',
      /^the range holds \d+ minute buckets/,
    )
    expect400(await series('from=0001-01-01T00:00:00Z&granularity=minute'), 'TOO_MANY_BUCKETS', /buckets/)
  })

  it.each([
    ['year 0000', 'from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z'],
    ['past 9999 once the offset applies', 'from=9999-12-31T23:00:00Z&to=9999-12-31T23:59:00-05:00'],
  ])('a time %s is BAD_TIME_RANGE on both range routes', async (_what, query) => {
    expect400(await series(`${query}&granularity=hour`), 'BAD_TIME_RANGE', /must be a time between/)
    expect400(await analytics(query), 'BAD_TIME_RANGE', /must be a time between/)
  })

  it('from equal to to is BAD_TIME_RANGE on both range routes', async () => {
    const query = 'from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z'
    expect400(await series(query), 'BAD_TIME_RANGE', '`from` must be earlier than `to`')
    expect400(await analytics(query), 'BAD_TIME_RANGE', '`from` must be earlier than `to`')
  })

  it('`to` alone counts everything before it, however early', async () => {
    const res = await analytics('to=0353-02-28T11:18:31Z')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ ad_id: 'existing', click_count: 0 })
  })

  it('the far edge of what is allowed still answers', async () => {
    const res = await series('from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59.999Z&granularity=hour')
    expect(res.statusCode).toBe(200)
    expect(res.json().buckets).toHaveLength(24)
  })
})

describe('methods and paths', () => {
  it.each([
    ['DELETE', '/ads', 'GET, HEAD, POST'],
    ['PUT', '/ads/existing', 'DELETE, GET, HEAD, PATCH'],
    // /ads/analytics and /ads/top are resources of their own, though PATCH and DELETE /ads/:id match them
    // in the router: those methods are refused there, not handed to the ad of that id.
    ['POST', '/ads/analytics', 'GET, HEAD'],
    ['DELETE', '/ads/analytics', 'GET, HEAD'],
    ['PATCH', '/ads/top', 'GET, HEAD'],
    ['OPTIONS', '/ads/top', 'GET, HEAD'],
    ['DELETE', '/ads/existing/analytics/timeseries', 'GET, HEAD'],
    ['POST', '/readyz', 'GET, HEAD'],
  ])('%s %s is a 405 with Allow: %s', async (method, url, allow) => {
    const res = await app.inject({ method: method as 'GET', url, headers: admin })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe(allow)
    expect(res.json()).toMatchObject({
      statusCode: 405,
      error: 'Method Not Allowed',
      code: 'METHOD_NOT_ALLOWED',
    })
  })

  it('an unknown path is still a 404', async () => {
    for (const url of ['/nothing', '/ads/existing/analytics', '/ads/existing/analytics/timeseries/x']) {
      const res = await app.inject(url)
      expect(res.statusCode, url).toBe(404)
      expect(res.json().code).toBe('ROUTE_NOT_FOUND')
    }
  })
})
