import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClickMessage, IngestConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AdCatalog } from './ad-catalog.js'
import type { BatchSender } from './click-producer.js'
import { createIngest, type Ingest } from './ingest.js'

// Input meant to hurt: text PostgreSQL cannot store must be refused at the edge (or, for headers that are
// only stored, cleaned), since the worker would otherwise fail a whole batch on it. A fake Kafka keeps
// every message produced, so "nothing produced" and "stored cleaned" are seen directly.

let dir: string
let ingest: Ingest
let app: FastifyInstance
const produced: ClickMessage[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingest-hostile-test-'))
  const sender: BatchSender = {
    sendBatch: async (req) => {
      for (const m of req.topicMessages?.[0]?.messages ?? []) produced.push(JSON.parse(String(m.value)))
      return []
    },
  }
  const config = loadConfig(IngestConfig, {
    LOG_LEVEL: 'silent',
    WRITE_TIMEOUT: '2s',
    RATE_LIMIT_MAX: '0',
    SPOOL_DIR: dir,
    PRODUCE_LINGER_MS: '0',
    PRODUCE_BATCH_SIZE: '100',
  })
  ingest = await createIngest(config, {
    sender,
    catalog: { accepts: () => true, age: 0, size: 1 } as unknown as AdCatalog,
    producer: { maxInFlight: 1, retries: 0, minBackoffMs: 1, maxBackoffMs: 2, halfOpenAfterMs: 60_000 },
  })
  app = ingest.app
})
afterAll(async () => {
  await ingest?.close()
  await rm(dir, { recursive: true, force: true })
})
beforeEach(() => {
  produced.length = 0
})

const HOSTILE_VIEWER_IDS = [
  ['NUL', 'viewer\u0000'],
  ['a C0 control', 'viewer\u001B[31m'],
  ['a C1 control (NEL)', 'viewer\u0085'],
  ['DEL', 'viewer\u007F'],
  ['a lone high surrogate', 'viewer\uD800'],
  ['a lone low surrogate', '\uDC00viewer'],
]
const FIELD_MESSAGE = 'must not contain control characters or invalid Unicode'

describe('POST /ads/click', () => {
  it.each(HOSTILE_VIEWER_IDS)(
    'refuses a viewer_id with %s: 400 naming the field, nothing produced',
    async (_what, viewerId) => {
      const res = await app.inject({
        method: 'POST',
        url: '/ads/click',
        payload: { ad_id: 'ad-1', playback_time: 3, viewer_id: viewerId },
      })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: `body/viewer_id ${FIELD_MESSAGE}`,
        code: 'VALIDATION_FAILED',
      })
      expect(produced).toEqual([])
    },
  )

  it('refuses a lone surrogate written as a JSON escape ("\\ud800")', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ads/click',
      headers: { 'content-type': 'application/json' },
      payload: '{"ad_id":"ad-1","playback_time":3,"viewer_id":"v\\ud800"}',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().message).toBe(`body/viewer_id ${FIELD_MESSAGE}`)
    expect(produced).toEqual([])
  })

  it('accepts a viewer_id with a tab and an emoji (a surrogate pair)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ads/click',
      payload: { ad_id: 'ad-1', playback_time: 3, viewer_id: 'fan\t\uD83D\uDE00' },
    })
    expect(res.statusCode).toBe(202)
    expect(produced.map((m) => m.viewer_id)).toEqual(['fan\t\uD83D\uDE00'])
  })

  it('stores a user agent with control characters cleaned, not refused, and cut to 512', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ads/click',
      headers: { 'user-agent': `Mozilla/5.0\u0085 (X11;\u009F Linux)\u0000${'x'.repeat(600)}` },
      payload: { ad_id: 'ad-1', playback_time: 3 },
    })
    expect(res.statusCode).toBe(202)
    expect(produced[0]?.user_agent).toBe(`Mozilla/5.0 (X11; Linux)${'x'.repeat(600)}`.slice(0, 512))
  })
})

describe("keys that name an object's prototype", () => {
  // A JSON key `__proto__` is harmless as data, but Fastify's parser refuses it by default: here it is
  // dropped like any field a click does not name, so the click still counts.
  const body =
    '{"ad_id":"ad-1","playback_time":4,"click_id":"proto-click-1","__proto__":{"admin":true},' +
    '"constructor":{"prototype":{"x":1}}}'

  it('POST /ads/click: the click is recorded without them', async () => {
    const res = await app.inject({ method: 'POST', url: '/ads/click', payload: body })
    expect(res.statusCode).toBe(202)
    expect(produced).toHaveLength(1)
    expect(Object.keys(produced[0] ?? {})).not.toContain('__proto__')
    expect(produced[0]?.click_id).toBe('proto-click-1')
  })

  it('POST /ads/clicks: an item that carries them is recorded', async () => {
    const res = await app.inject({ method: 'POST', url: '/ads/clicks', payload: `[${body}]` })
    expect(res.statusCode).toBe(200)
    expect(res.json().accepted).toBe(1)
    expect(produced.map((m) => m.click_id)).toEqual(['proto-click-1'])
  })
})

describe('POST /ads/clicks', () => {
  it.each(HOSTILE_VIEWER_IDS)(
    'rejects an item whose viewer_id has %s, naming it, and records the others',
    async (_what, viewerId) => {
      const res = await app.inject({
        method: 'POST',
        url: '/ads/clicks',
        payload: [
          { ad_id: 'ad-1', playback_time: 1, click_id: 'good-click-1' },
          { ad_id: 'ad-1', playback_time: 2, viewer_id: viewerId },
        ],
      })
      expect(res.statusCode).toBe(200)
      expect(res.json().results[1]).toEqual({
        status: 'rejected',
        statusCode: 400,
        code: 'VALIDATION_FAILED',
        message: `body/1/viewer_id ${FIELD_MESSAGE}`,
      })
      expect(produced.map((m) => m.click_id)).toEqual(['good-click-1'])
    },
  )

  it('rejects an NDJSON line with a NUL or a "\\ud800" escape in viewer_id', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/ads/clicks',
      headers: { 'content-type': 'application/x-ndjson', 'user-agent': 'Player\u0085/1.0' },
      payload: [
        '{"ad_id":"ad-1","playback_time":1,"viewer_id":"a\\u0000b"}',
        '{"ad_id":"ad-1","playback_time":2,"viewer_id":"\\ud800"}',
        '{"ad_id":"ad-1","playback_time":3,"click_id":"good-click-2"}',
      ].join('\n'),
    })
    expect(res.statusCode).toBe(200)
    const [first, second] = res.json().results
    expect(first.message).toBe(`body/0/viewer_id ${FIELD_MESSAGE}`)
    expect(second.message).toBe(`body/1/viewer_id ${FIELD_MESSAGE}`)
    expect(produced.map((m) => [m.click_id, m.user_agent])).toEqual([['good-click-2', 'Player/1.0']])
  })
})

describe('methods and paths', () => {
  it.each([
    ['GET', '/ads/click', 'POST'],
    ['PUT', '/ads/clicks', 'POST'],
    ['POST', '/livez', 'GET, HEAD'],
  ])('%s %s is a 405 with Allow: %s', async (method, url, allow) => {
    const res = await app.inject({ method: method as 'GET', url })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe(allow)
    expect(res.json()).toMatchObject({ statusCode: 405, code: 'METHOD_NOT_ALLOWED' })
  })

  it('an unknown path is still a 404', async () => {
    const res = await app.inject({ method: 'POST', url: '/ads/nothing-here' })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('ROUTE_NOT_FOUND')
  })
})
