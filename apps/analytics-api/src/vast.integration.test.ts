import { PLAYBACK_EVENTS, VAST_EVENT_NAMES } from '@adtrack/contracts'
import { parseTrackingKeys, verifyImpression } from '@adtrack/service-runtime/impression-token'
import { ensureVastlint, type VastlintResult, vastlint } from '@adtrack/test-support'
import type { InjectOptions } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { analyticsApp } from './testing/analytics-app.js'
import { childNames, parseVast, tagUrls, vastElement } from './testing/vast-tag.js'
import { EMPTY_VAST } from './vast-xml.js'

// GET /ads/:id/vast on the real app over PostgreSQL: the ads are made through the admin API, the tags are
// read with a real XML parser, their tokens verified with the configured keys, and vastlint (the IAB VAST
// rules, those of the 4.2 XSD included) judges each tag served.

const ADMIN_KEY = 'vast-admin-key-0123456789'
// Two keys: the first signs, so a token must verify with the list and name k2.
const TRACKING_KEYS = 'k2:vast-test-signing-key-0123456789abcdef,k1:vast-test-older-key-0123456789abcdef'
const BASE = 'https://track.example.com/api'
const PLAYER = 'https://player.example.com'
const NOW = Date.parse('2026-11-30T12:00:00.000Z')
const MAX_AGE_MS = 24 * 3600_000

const media = {
  url: 'https://cdn.example.com/winter.mp4',
  type: 'video/mp4',
  width: 640,
  height: 360,
  duration_seconds: 15.5,
} as const
const HOSTILE_TITLES = [
  '<script>alert("x")</script> & </AdTitle><Impression>https://evil.example/</Impression>',
  ']]> <![CDATA[ ]]]]> &amp; &#x26; &unknown; <?php ?> <!-- x -->',
  `"quotes" 'apostrophes' <VAST version="2.0"/>`,
  'Ünïcödé 🎬 \u202Eright-to-left\u202C\tand a tab',
]

const api = analyticsApp('vast', {
  env: {
    ADMIN_API_KEYS: ADMIN_KEY,
    TRACKING_TOKEN_KEYS: TRACKING_KEYS,
    PUBLIC_BASE_URL: BASE,
    TRACKING_CORS_ORIGINS: `${PLAYER},http://localhost:3000`,
  },
  deps: () => ({ now: () => NOW }),
})
let python: string

const admin = (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  api.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    payload: payload === undefined ? undefined : (JSON.stringify(payload) as InjectOptions['payload']),
  })
const createAd = async (body: Record<string, unknown>) => {
  const res = await admin('POST', '/ads', {
    image_url: 'https://example.com/i.jpg',
    target_url: 'https://example.com/landing',
    ...body,
  })
  expect(res.statusCode, res.body).toBe(201)
}
const tagOf = (id: string, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'GET', url: `/ads/${encodeURIComponent(id)}/vast`, headers })

beforeAll(async () => {
  python = await ensureVastlint()
  await createAd({ id: 'video', title: 'Winter sale', media })
  await createAd({ id: 'paused', title: 'Paused', status: 'paused', media })
  await createAd({ id: 'archived', title: 'Archived', media })
  expect((await admin('DELETE', '/ads/archived')).statusCode).toBe(204)
  await createAd({ id: 'no-media', title: 'Banner only' })
  for (const [i, title] of HOSTILE_TITLES.entries()) await createAd({ id: `hostile-${i}`, title, media })
})
const errorsOf = (result: VastlintResult) => result.issues.filter((issue) => issue.severity === 'error')

describe('an active ad with media', () => {
  it('answers a VAST 4.2 InLine with its video, uncached, as XML', async () => {
    const res = await tagOf('video')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/xml; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    const doc = parseVast(res.body)
    expect(doc.documentElement?.getAttribute('version')).toBe('4.2')
    expect(vastElement(doc, 'Ad').getAttribute('id')).toBe('video')
    expect(vastElement(doc, 'AdTitle').textContent).toBe('Winter sale')
    const file = vastElement(doc, 'MediaFile')
    expect(file.textContent).toBe(media.url)
    expect([file.getAttribute('type'), file.getAttribute('width'), file.getAttribute('height')]).toEqual([
      'video/mp4',
      '640',
      '360',
    ])
    expect(vastElement(doc, 'Duration').textContent).toBe('00:00:15.500')
    expect(childNames(vastElement(doc, 'VideoClicks'))).toEqual(['ClickTracking', 'ClickThrough'])
  })

  it('signs a new impression into every URL: absolute on PUBLIC_BASE_URL, verified with the configured keys', async () => {
    const doc = parseVast((await tagOf('video')).body)
    const impressionId = vastElement(doc, 'AdServingId').textContent
    const urls = tagUrls(doc)
    expect(urls.map((u) => u.what)).toEqual([
      'Error',
      'Impression',
      ...PLAYBACK_EVENTS.map((event) => `Tracking:${VAST_EVENT_NAMES[event]}`),
      'ClickTracking',
      'ClickThrough',
    ])
    const keys = parseTrackingKeys(TRACKING_KEYS)
    for (const { what, url } of urls) {
      expect(url.startsWith(`${BASE}/track/video/`), `${what}: ${url}`).toBe(true)
      const token = new URL(url).searchParams.get('t')
      expect(token?.split('.')[1], what).toBe('k2')
      const verdict = verifyImpression(keys, token, {
        adId: 'video',
        now: NOW,
        maxAgeMs: MAX_AGE_MS,
        maxSkewMs: 0,
      })
      expect(verdict, what).toEqual({ ok: true, adId: 'video', impressionId, servedAt: NOW })
      // Keys the services do not hold refuse it: the signature is real.
      const stranger = parseTrackingKeys('k2:someone-elses-key-0123456789abcdefgh')
      expect(verifyImpression(stranger, token, { now: NOW, maxAgeMs: MAX_AGE_MS, maxSkewMs: 0 })).toEqual({
        ok: false,
        reason: 'bad_signature',
      })
    }
  })

  it('mints a new impression on every serve', async () => {
    const ids = new Set<string | null>()
    for (let i = 0; i < 3; i++)
      ids.add(vastElement(parseVast((await tagOf('video')).body), 'AdServingId').textContent)
    expect(ids.size).toBe(3)
  })

  it('escapes hostile titles: each reads back exactly, and the tag keeps one Impression', async () => {
    for (const [i, title] of HOSTILE_TITLES.entries()) {
      const doc = parseVast((await tagOf(`hostile-${i}`)).body)
      expect(vastElement(doc, 'AdTitle').textContent).toBe(title)
      expect(tagUrls(doc).filter((u) => u.what === 'Impression')).toHaveLength(1)
    }
  })
})

describe('an ad that cannot play answers the empty VAST (no ad), with 200', () => {
  it.each(['unknown', 'paused', 'archived', 'no-media'])('%s', async (id) => {
    const res = await tagOf(id)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/xml; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).toBe(EMPTY_VAST)
    const doc = parseVast(res.body)
    expect(doc.documentElement?.getAttribute('version')).toBe('4.2')
    expect(childNames(doc.documentElement as never)).toEqual([])
  })

  it('an id that is no ad id at all is a 400, like GET /ads/:id', async () => {
    const res = await api.app.inject(`/ads/${encodeURIComponent('bad id!')}/vast`)
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('VALIDATION_FAILED')
  })
})

describe('CORS for browser players', () => {
  it('echoes an allowed origin, with credentials (IMA fetches withCredentials)', async () => {
    for (const id of ['video', 'unknown']) {
      const res = await tagOf(id, { origin: PLAYER })
      expect(res.headers['access-control-allow-origin']).toBe(PLAYER)
      expect(res.headers['access-control-allow-credentials']).toBe('true')
      expect(res.headers.vary).toMatch(/Origin/)
    }
  })

  it('gives no grant to another origin, nor on the other routes', async () => {
    expect((await tagOf('video', { origin: 'https://evil.example.com' })).headers).not.toHaveProperty(
      'access-control-allow-origin',
    )
    const other = await api.app.inject({ method: 'GET', url: '/ads/video', headers: { origin: PLAYER } })
    expect(other.statusCode).toBe(200)
    expect(other.headers).not.toHaveProperty('access-control-allow-origin')
  })

  it('answers a preflight for the tag', async () => {
    const preflight = await api.app.inject({
      method: 'OPTIONS',
      url: '/ads/video/vast',
      headers: { origin: PLAYER, 'access-control-request-method': 'GET' },
    })
    expect(preflight.statusCode).toBe(204)
    expect(preflight.headers['access-control-allow-origin']).toBe(PLAYER)
    expect(preflight.headers['access-control-allow-methods']).toBe('GET, HEAD')
    expect(preflight.headers['access-control-allow-credentials']).toBe('true')
  })

  it('grants nothing to a preflight for another path: OPTIONS stays a 405 there, an unknown path a 404', async () => {
    const headers = { origin: PLAYER, 'access-control-request-method': 'DELETE' }
    const other = await api.app.inject({ method: 'OPTIONS', url: '/ads/video', headers })
    expect(other.statusCode).toBe(405)
    expect(other.headers).not.toHaveProperty('access-control-allow-origin')
    const unknown = await api.app.inject({ method: 'OPTIONS', url: '/no/such/path', headers })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.headers).not.toHaveProperty('access-control-allow-origin')
    expect((await api.app.inject('/no/such/path')).statusCode).toBe(404)
  })
})

describe('vastlint (IAB VAST rules, the 4.2 XSD among them)', () => {
  it('finds no error in served tags, hostile titles included, nor in the empty VAST', async () => {
    for (const id of ['video', ...HOSTILE_TITLES.map((_, i) => `hostile-${i}`), 'paused']) {
      const body = (await tagOf(id)).body
      const result = await vastlint(python, body)
      expect(errorsOf(result), `${id}: ${JSON.stringify(result.issues, null, 1)}`).toEqual([])
      expect(result.version).toBe('4.2')
    }
  })

  it('is no rubber stamp: the same tag without a required element fails it', async () => {
    const body = (await tagOf('video')).body
    const broken = body.replace(/<UniversalAdId[^>]*>[^<]*<\/UniversalAdId>/, '')
    expect(broken).not.toBe(body)
    expect(errorsOf(await vastlint(python, broken)).map((issue) => issue.id)).toContain(
      'VAST-4.0-universaladid-present',
    )
  })
})
