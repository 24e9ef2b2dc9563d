import { AnalyticsConfig, IngestConfig, parseDuration, redisKeys } from '@adtrack/contracts'
import { AdCatalog } from '@adtrack/ingest-api/ad-catalog'
import { buildApp as buildIngestApp } from '@adtrack/ingest-api/app'
import { ClickProducer } from '@adtrack/ingest-api/click-producer'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import {
  connectedProducer,
  createTestDatabase,
  createTopic,
  insertAds,
  stack,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from './app.js'
import { analyticsStores } from './stores.js'

const KEY = 'first-admin-key-0123456789'
const SECOND_KEY = 'second-admin-key-abcdefghij'
const admin = { authorization: `Bearer ${KEY}` }
const valid = {
  title: 'Winter sale',
  image_url: 'https://example.com/winter.jpg',
  target_url: 'https://example.com/winter',
}

let db: Awaited<ReturnType<typeof createTestDatabase>>
let redis: Redis
let app: FastifyInstance

async function analyticsApp(adminKeys: string) {
  return buildApp(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent', ADMIN_API_KEYS: adminKeys }), {
    ...analyticsStores(db.sql, redis, redisKeys(`${uniqueName('admin')}:`)),
    registry: new Registry(),
    readiness: new Readiness({}),
  })
}

beforeAll(async () => {
  db = await createTestDatabase()
  redis = createRedis(stack().redisUrl)
  await insertAds(db.sql, [{ id: 'existing' }, { id: 'other' }])
  app = await analyticsApp(`${KEY}, ${SECOND_KEY}`)
})
afterAll(async () => {
  await app?.close()
  await redis?.quit()
  await db?.drop()
})

const adCount = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from ads`)[0]?.n
const post = (payload: unknown, headers: Record<string, string> = admin) =>
  app.inject({ method: 'POST', url: '/ads', headers, payload: payload as InjectOptions['payload'] })
const patch = (id: string, payload: unknown, headers: Record<string, string> = admin) =>
  app.inject({ method: 'PATCH', url: `/ads/${id}`, headers, payload: payload as InjectOptions['payload'] })
const remove = (id: string, headers: Record<string, string> = admin) =>
  app.inject({ method: 'DELETE', url: `/ads/${id}`, headers })
const listedIds = async () => (await app.inject('/ads?limit=1000')).json().map((a: { id: string }) => a.id)

describe('POST /ads', () => {
  it('creates an active ad with a server-assigned id, readable by anyone', async () => {
    const res = await post(valid)
    expect(res.statusCode).toBe(201)
    const ad = res.json()
    expect(ad).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      ...valid,
      status: 'active',
      media: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(res.headers.location).toBe(`/ads/${ad.id}`)
    const read = await app.inject(`/ads/${ad.id}`)
    expect(read.statusCode).toBe(200)
    expect(read.json()).toEqual(ad)
    expect(await listedIds()).toContain(ad.id)
  })

  it('keeps a client-chosen id and status', async () => {
    const res = await post({ ...valid, id: 'spring-2026', status: 'paused' })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ id: 'spring-2026', status: 'paused' })
  })

  it('refuses a taken id with 409, leaving the ad as it was', async () => {
    const res = await post({ ...valid, id: 'existing', title: 'Replacement' })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'AD_ID_TAKEN' })
    expect((await app.inject('/ads/existing')).json().title).toBe('Test ad existing')
  })

  it.each(['click', 'clicks', 'analytics', 'top'])(
    'refuses the id %s, which names another endpoint under /ads/',
    async (id) => {
      const res = await post({ ...valid, id })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ code: 'AD_ID_RESERVED', message: /another endpoint/ })
    },
  )

  describe('refuses an invalid body with 400 and writes nothing', () => {
    const cases: [string, unknown, RegExp][] = [
      [
        'an ftp image_url',
        { ...valid, image_url: 'ftp://example.com/a.jpg' },
        /body\/image_url must be an absolute http/,
      ],
      [
        'a javascript: target_url',
        { ...valid, target_url: 'javascript:alert(1)' },
        /body\/target_url must be an absolute http/,
      ],
      ['a data: target_url', { ...valid, target_url: 'data:text/html,<b>x</b>' }, /body\/target_url/],
      ['a relative target_url', { ...valid, target_url: '/landing' }, /body\/target_url/],
      ['a URL without a host', { ...valid, image_url: 'https://' }, /body\/image_url/],
      ['a numeric title', { ...valid, title: 42 }, /body\/title must be string/],
      ['a numeric id (not coerced to a string)', { ...valid, id: 42 }, /body\/id must be string/],
      ['a boolean status', { ...valid, status: true }, /body\/status must be one of "active", "paused"/],
      ['an unknown status', { ...valid, status: 'archived' }, /body\/status must be one of/],
      [
        'an unknown field (not silently dropped)',
        { ...valid, budget: 100 },
        /body\/budget is not an allowed property/,
      ],
      ['a missing title', { image_url: valid.image_url, target_url: valid.target_url }, /title/],
      ['a blank title', { ...valid, title: '   ' }, /body\/title must contain a character/],
      ['an id with a space', { ...valid, id: 'two words' }, /body\/id/],
      ['an array', [valid], /body must be object/],
      ['malformed JSON', '{"title": ', /JSON/],
    ]
    it.each(cases)('%s', async (_name, payload, message) => {
      const before = await adCount()
      const res = await app.inject({
        method: 'POST',
        url: '/ads',
        headers: { ...admin, 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', message })
      expect(await adCount()).toBe(before)
    })
  })
})

describe('PATCH /ads/:id', () => {
  it('changes the fields given and keeps the others', async () => {
    const id = (await post(valid)).json().id
    const res = await patch(id, { status: 'paused', target_url: 'http://example.com/new' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      id,
      title: valid.title,
      status: 'paused',
      target_url: 'http://example.com/new',
    })
    expect((await app.inject(`/ads/${id}`)).json()).toEqual(res.json())
  })

  it.each([
    ['an empty patch', {}, /body must have at least 1 property/],
    ['an id (it cannot change)', { id: 'new-id' }, /body\/id is not an allowed property/],
    ['a javascript: URL', { image_url: 'javascript:alert(1)' }, /body\/image_url must be an absolute http/],
    ['a string where a status belongs', { status: 1 }, /body\/status/],
    ['a null title', { title: null }, /body\/title must be string/],
  ])('refuses %s with 400', async (_name, payload, message) => {
    const res = await patch('other', payload)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', message })
    expect((await app.inject('/ads/other')).json()).toMatchObject({
      title: 'Test ad other',
      status: 'active',
    })
  })

  it('answers 404 for an unknown ad', async () => {
    const res = await patch('no-such-ad', { title: 'x' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({ code: 'AD_NOT_FOUND' })
  })
})

describe('DELETE /ads/:id', () => {
  it('archives the ad: gone from the reads, its clicks and analytics kept, its id never reused', async () => {
    const id = (await post({ ...valid, id: 'to-archive' })).json().id
    await db.sql`insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset)
      values ('archived-click-1', ${id}, 5, now(), '10.0.0.1', 'ua', 0, 1)`

    const res = await remove(id)
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')

    expect((await app.inject(`/ads/${id}`)).statusCode).toBe(404)
    expect(await listedIds()).not.toContain(id)
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from clicks where ad_id = ${id}`
    expect(row?.n).toBe(1)
    expect((await app.inject(`/ads/analytics?ad_id=${id}`)).statusCode).toBe(200)

    expect((await remove(id)).statusCode).toBe(404)
    expect((await patch(id, { title: 'back' })).statusCode).toBe(404)
    const again = await post({ ...valid, id })
    expect(again.statusCode).toBe(409)
    expect(again.json().message).toMatch(/archived/)
  })

  it('answers 404 for an unknown ad', async () => {
    expect((await remove('no-such-ad')).json()).toMatchObject({ statusCode: 404, code: 'AD_NOT_FOUND' })
  })
})

describe('admin API key', () => {
  const requests: [string, (headers: Record<string, string>) => ReturnType<typeof post>][] = [
    ['POST /ads', (headers) => post(valid, headers)],
    ['PATCH /ads/:id', (headers) => patch('existing', { title: 'Hijacked' }, headers)],
    ['DELETE /ads/:id', (headers) => remove('existing', headers)],
  ]

  describe.each(requests)('%s', (_name, send) => {
    it('answers 401 with a challenge without an Authorization header, and writes nothing', async () => {
      const before = await adCount()
      const res = await send({})
      expect(res.statusCode).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="admin"')
      expect(res.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringMatching(/Bearer/),
        code: 'ADMIN_KEY_MISSING',
      })
      expect(await adCount()).toBe(before)
    })

    it.each([
      ['another scheme', `Basic ${Buffer.from(`admin:${KEY}`).toString('base64')}`],
      ['the key without a scheme', KEY],
      ['a scheme without a key', 'Bearer'],
      ['two tokens', `Bearer ${KEY} ${KEY}`],
      ['a token with a character a Bearer token cannot have', `Bearer ${KEY}!`],
    ])('answers 401 for a malformed Authorization header: %s', async (_case, authorization) => {
      const res = await send({ authorization })
      expect(res.statusCode).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="admin", error="invalid_request"')
      expect(res.json()).toMatchObject({ statusCode: 401, code: 'ADMIN_KEY_MALFORMED' })
    })

    it('answers 403 for a key that is not configured, and writes nothing', async () => {
      const res = await send({ authorization: 'Bearer not-the-admin-key-0123456789' })
      expect(res.statusCode).toBe(403)
      expect(res.json()).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: 'the admin API key is not valid',
        code: 'ADMIN_KEY_INVALID',
      })
      expect((await app.inject('/ads/existing')).json()).toMatchObject({ title: 'Test ad existing' })
    })
  })

  it('checks the key before the body: no key and a bad body is 401, not 400', async () => {
    expect((await post({ nonsense: true }, {})).statusCode).toBe(401)
    expect(
      (await post({ nonsense: true }, { authorization: 'Bearer wrong-admin-key-0123456789' })).statusCode,
    ).toBe(403)
  })

  it('accepts every configured key (rotation) and the scheme in any case', async () => {
    expect((await post(valid, { authorization: `Bearer ${SECOND_KEY}` })).statusCode).toBe(201)
    expect((await post(valid, { authorization: `bearer ${KEY}` })).statusCode).toBe(201)
  })

  it('answers 403 ADMIN_DISABLED for every admin request when no key is configured; reads still work', async () => {
    const disabled = await analyticsApp('')
    try {
      for (const res of [
        await disabled.inject({ method: 'POST', url: '/ads', payload: valid }),
        await disabled.inject({ method: 'POST', url: '/ads', headers: admin, payload: valid }),
        await disabled.inject({ method: 'DELETE', url: '/ads/existing', headers: admin }),
      ]) {
        expect(res.statusCode).toBe(403)
        expect(res.json()).toMatchObject({
          statusCode: 403,
          code: 'ADMIN_DISABLED',
          message: /ADMIN_API_KEYS/,
        })
      }
      expect((await disabled.inject('/ads/existing')).statusCode).toBe(200)
    } finally {
      await disabled.close()
    }
  })
})

describe('reads stay public', () => {
  it('answers GET /ads (query coerced: ?limit=1), GET /ads/:id and GET /ads/analytics without a key', async () => {
    const page = await app.inject('/ads?limit=1&offset=0')
    expect(page.statusCode).toBe(200)
    expect(page.json()).toHaveLength(1)
    expect((await app.inject('/ads/existing')).statusCode).toBe(200)
    expect((await app.inject('/ads/analytics?ad_id=existing')).statusCode).toBe(200)
  })
})

describe('API description', () => {
  it('serves Swagger UI at /docs and the OpenAPI 3.1 description at /docs/json', async () => {
    const ui = await app.inject('/docs')
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toMatch(/text\/html/)
    const spec = (await app.inject('/docs/json')).json()
    expect(spec.openapi).toBe('3.1.0')
    expect(Object.keys(spec.paths['/ads'])).toEqual(expect.arrayContaining(['get', 'post']))
  })
})

describe('ingest-api sees a change within 5 seconds', () => {
  let ingest: FastifyInstance
  let catalog: AdCatalog
  let kafkaProducer: Producer

  beforeAll(async () => {
    const topic = uniqueName('admin-clicks')
    await createTopic(topic, 1)
    // The catalogue refresh is ingest-api's default (AD_CATALOG_REFRESH, 2 s): what production runs.
    const config = loadConfig(IngestConfig, { KAFKA_TOPIC: topic, LOG_LEVEL: 'silent' })
    const logger = pino({ level: 'silent' })
    kafkaProducer = await connectedProducer('admin-test')
    catalog = new AdCatalog(db.sql, parseDuration(config.AD_CATALOG_REFRESH), logger)
    await catalog.start()
    const producer = new ClickProducer(kafkaProducer, topic, { lingerMs: 2, maxBatch: 100 })
    ingest = await buildIngestApp(config, {
      catalog,
      producer,
      registry: new Registry(),
      readiness: new Readiness({}),
    })
  })
  afterAll(async () => {
    await ingest?.close()
    catalog?.stop()
    await kafkaProducer?.disconnect()
  })

  const click = async (adId: string) =>
    (await ingest.inject({ method: 'POST', url: '/ads/click', payload: { ad_id: adId, playback_time: 3 } }))
      .statusCode

  /** Milliseconds until ingest-api answers `status` for a click on the ad; fails after 5 s. */
  async function until(adId: string, status: number): Promise<number> {
    const started = Date.now()
    await waitFor(async () => ((await click(adId)) === status ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 50,
      what: `ingest-api to answer ${status} for ad ${adId}`,
    })
    return Date.now() - started
  }

  it('accepts clicks for a created ad, refuses them once paused or archived, accepts them again when resumed', async () => {
    const created = await post({ ...valid, id: uniqueName('clickable') })
    expect(created.statusCode).toBe(201)
    const { id } = created.json()
    expect(await until(id, 202)).toBeLessThan(5000)

    expect((await patch(id, { status: 'paused' })).statusCode).toBe(200)
    expect(await until(id, 404)).toBeLessThan(5000)

    expect((await patch(id, { status: 'active' })).statusCode).toBe(200)
    expect(await until(id, 202)).toBeLessThan(5000)

    expect((await remove(id)).statusCode).toBe(204)
    expect(await until(id, 404)).toBeLessThan(5000)
  })
})
