import { mintImpression, parseTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { insertAds, readTopic, topicRecordCount } from '@adtrack/test-support'
import { describe, expect, it } from 'vitest'
import { PIXEL_GIF } from './routes/tracking.js'
import { ingestApp } from './testing/ingest-app.js'

// The tracking routes against the dev stack's Kafka and Postgres: what a player's pixel, click-through
// and SDK call put on the topic, and what a bad token leaves off it.

const KEYS = 'k2:integration-tracking-key-new-0123456789,k1:integration-tracking-key-old-0123456789'
const keys = parseTrackingKeys(KEYS)
const oldKeyOnly = parseTrackingKeys('k1:integration-tracking-key-old-0123456789')
const MAX_AGE_MS = 60 * 60 * 1000
const ALLOWED_ORIGIN = 'https://player.example.com'
const BATCH_MAX = 6
const ingest = ingestApp('ingest-tracking', {
  env: {
    BATCH_MAX_CLICKS: String(BATCH_MAX),
    TRACKING_TOKEN_KEYS: KEYS,
    TRACKING_TOKEN_MAX_AGE: '1h',
    TRACKING_CORS_ORIGINS: `${ALLOWED_ORIGIN}, https://other-player.example`,
    // The rate limit would need Redis; the tracking routes are outside it anyway.
    RATE_LIMIT_MAX: '0',
  },
  seed: async (sql) => {
    await insertAds(sql, [
      { id: 'live' },
      { id: 'other' },
      { id: 'paused', status: 'paused' },
      { id: 'gone' },
    ])
    await sql`update ads set target_url = 'https://advertiser.example/landing?utm=vast' where id = 'live'`
    await sql`update ads set target_url = 'https://advertiser.example/paused' where id = 'paused'`
    await sql`update ads set archived_at = now() where id = 'gone'`
  },
})
const { topic } = ingest

const UA = 'Mozilla/5.0 (X11; Linux x86_64) VastPlayer/1.0'
const get = (url: string, headers: Record<string, string> = {}) =>
  ingest.app.inject({ method: 'GET', url, headers: { 'user-agent': UA, ...headers } })

async function refusals(reason: string): Promise<number> {
  const metric = await ingest.metrics.tokenRefusals.get()
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

/** The records of the topic that carry this impression, once `total` records are on the topic. */
async function recordsOf(impressionId: string, total: number) {
  return (await readTopic(topic, total)).filter((r) => r.value.impression_id === impressionId)
}

/** The token with one character of its impression id changed: a forgery of another impression. */
function tamper(token: string): string {
  const parts = token.split('.')
  const id = parts[2] ?? ''
  parts[2] = (id[0] === 'A' ? 'B' : 'A') + id.slice(1)
  return parts.join('.')
}

/** A genuine token of ad `live`, served when the file loads. */
const good = mintImpression(keys, 'live', Date.now())

/** Lets anything that was (wrongly) sent reach the broker before a test counts the topic. */
const settle = () => new Promise((r) => setTimeout(r, 100))

function expectPixel(res: Awaited<ReturnType<typeof get>>) {
  expect(res.statusCode, res.body).toBe(200)
  expect(res.headers['content-type']).toBe('image/gif')
  expect(res.headers['cache-control']).toBe('no-store')
  expect(res.rawPayload.equals(PIXEL_GIF)).toBe(true)
  expect(res.rawPayload.subarray(0, 6).toString('latin1')).toBe('GIF89a')
  expect([res.rawPayload.readUInt16LE(6), res.rawPayload.readUInt16LE(8)]).toEqual([1, 1])
}

describe('GET /track/:ad_id/:event (pixel)', () => {
  it('answers the GIF once Kafka holds exactly one version 2 record of the event, keyed by impression', async () => {
    const served = mintImpression(keys, 'live', Date.now() - 5000)
    const before = await topicRecordCount(topic)
    const res = await get(
      `/track/live/first_quartile?t=${served.token}&cb=83921&ad_playhead=00:00:02.500&content_playhead=%5BCONTENTPLAYHEAD%5D`,
      { 'x-forwarded-for': '198.51.100.1' },
    )
    expectPixel(res)
    expect(await topicRecordCount(topic)).toBe(before + 1)
    const records = await recordsOf(served.impressionId, before + 1)
    expect(records).toHaveLength(1)
    expect(records[0]?.key).toBe(served.impressionId)
    expect(records[0]?.value).toEqual({
      v: 2,
      type: 'first_quartile',
      impression_id: served.impressionId,
      ad_id: 'live',
      served_at: new Date(served.servedAt).toISOString(),
      received_at: expect.any(String),
      // No TRUSTED_PROXIES here: the forwarded address is not believed.
      ip: '127.0.0.1',
      user_agent: UA,
      ad_playhead: 2.5,
    })
    expect(Date.now() - Date.parse(String(records[0]?.value.received_at))).toBeLessThan(60_000)
  })

  it.each([
    ['substituted', '405', 405],
    ['left literal', '[ERRORCODE]', undefined],
    ['left literal, percent-encoded', '%5BERRORCODE%5D', undefined],
  ])('records an error with its code %s', async (_name, code, expected) => {
    const served = mintImpression(keys, 'live', Date.now())
    const before = await topicRecordCount(topic)
    expectPixel(await get(`/track/live/error?t=${served.token}&error_code=${code}&ad_playhead=[ADPLAYHEAD]`))
    const [record] = await recordsOf(served.impressionId, before + 1)
    expect(record?.value.type).toBe('error')
    expect(record?.value.error_code).toBe(expected)
    expect(record?.value).not.toHaveProperty('ad_playhead')
  })

  it('verifies a token signed with the older of two configured keys (rotation)', async () => {
    const served = mintImpression(oldKeyOnly, 'live', Date.now())
    const before = await topicRecordCount(topic)
    expectPixel(await get(`/track/live/impression?t=${served.token}`))
    expect(await recordsOf(served.impressionId, before + 1)).toHaveLength(1)
  })

  it('records an event of a paused ad: the token proves the tag was served', async () => {
    const served = mintImpression(keys, 'paused', Date.now())
    const before = await topicRecordCount(topic)
    expectPixel(await get(`/track/paused/complete?t=${served.token}`))
    expect(await recordsOf(served.impressionId, before + 1)).toHaveLength(1)
  })

  it.each([
    ['missing', '/track/live/start'],
    ['missing', '/track/live/start?t='],
    ['malformed', '/track/live/start?t=hello'],
    ['bad_signature', `/track/live/start?t=${good.token.replace(/\.live$/, '.other')}`],
    ['bad_signature', `/track/live/start?t=${tamper(good.token)}`],
    ['unknown_key', `/track/live/start?t=${good.token.replace('v1.k2.', 'v1.k7.')}`],
    [
      'expired',
      `/track/live/start?t=${mintImpression(keys, 'live', Date.now() - MAX_AGE_MS - 60_000).token}`,
    ],
    [
      'from_the_future',
      `/track/live/start?t=${mintImpression(keys, 'live', Date.now() + 10 * 60_000).token}`,
    ],
    ['wrong_ad', `/track/other/start?t=${good.token}`],
  ])('answers the GIF for a %s token, produces nothing and counts it by reason (%s)', async (reason, url) => {
    const before = await topicRecordCount(topic)
    const counted = await refusals(reason)
    expectPixel(await get(url))
    await settle()
    expect(await topicRecordCount(topic)).toBe(before)
    expect(await refusals(reason)).toBe(counted + 1)
  })

  it('reads the first value of a query name given twice', async () => {
    const served = mintImpression(keys, 'live', Date.now())
    const before = await topicRecordCount(topic)
    expectPixel(await get(`/track/live/midpoint?t=${served.token}&t=other&cb=1&cb=2`))
    expect(await recordsOf(served.impressionId, before + 1)).toHaveLength(1)
  })

  it.each([
    ['an unknown event', '/track/live/halfway', 400, 'VALIDATION_FAILED'],
    [
      'VAST’s own spelling of an event (ours is snake_case)',
      '/track/live/firstQuartile',
      400,
      'VALIDATION_FAILED',
    ],
    ['an ad id that is not one', '/track/bad%20id/start', 400, 'VALIDATION_FAILED'],
  ])('refuses %s with a JSON 4xx', async (_name, url, status, code) => {
    const res = await get(`${url}?t=${good.token}`)
    expect(res.statusCode).toBe(status)
    expect(res.json()).toMatchObject({ statusCode: status, code })
  })
})

describe('GET /track/:ad_id/clickthrough', () => {
  it('records one click event and redirects to the stored target_url, whatever the query says', async () => {
    const served = mintImpression(keys, 'live', Date.now())
    const before = await topicRecordCount(topic)
    const res = await get(
      `/track/live/clickthrough?t=${served.token}&url=https://evil.example/&redirect=https%3A%2F%2Fevil.example%2F&target_url=//evil.example`,
    )
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe('https://advertiser.example/landing?utm=vast')
    expect(res.headers['cache-control']).toBe('no-store')
    const records = await recordsOf(served.impressionId, before + 1)
    expect(records).toHaveLength(1)
    expect(records[0]?.key).toBe(served.impressionId)
    expect(records[0]?.value).toMatchObject({ v: 2, type: 'click', ad_id: 'live' })
  })

  it('redirects a paused ad’s viewer too (the worker judges the click inactive_ad)', async () => {
    const served = mintImpression(keys, 'paused', Date.now())
    const before = await topicRecordCount(topic)
    const res = await get(`/track/paused/clickthrough?t=${served.token}`)
    expect(res.headers.location).toBe('https://advertiser.example/paused')
    expect(await recordsOf(served.impressionId, before + 1)).toHaveLength(1)
  })

  it.each([
    ['missing', '/track/live/clickthrough?url=https://evil.example/'],
    ['wrong_ad', `/track/live/clickthrough?t=${mintImpression(keys, 'other', Date.now()).token}`],
    ['bad_signature', `/track/live/clickthrough?t=${good.token.replace(/\.live$/, '.other')}`],
  ])('sends a %s token to the ad’s own target_url without counting', async (reason, url) => {
    const before = await topicRecordCount(topic)
    const counted = await refusals(reason)
    const res = await get(url)
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe('https://advertiser.example/landing?utm=vast')
    await settle()
    expect(await topicRecordCount(topic)).toBe(before)
    expect(await refusals(reason)).toBe(counted + 1)
  })

  it.each([
    ['an unknown ad', 'nope'],
    ['an archived ad', 'gone'],
  ])('answers %s with a JSON 404 and no redirect', async (_name, adId) => {
    const res = await get(`/track/${adId}/clickthrough?t=${mintImpression(keys, adId, Date.now()).token}`)
    expect(res.statusCode).toBe(404)
    expect(res.headers.location).toBeUndefined()
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'AD_NOT_FOUND' })
  })
})

describe('POST /track/events (SDK route)', () => {
  const post = (payload: string, contentType = 'application/json') =>
    ingest.app.inject({
      method: 'POST',
      url: '/track/events',
      headers: { 'content-type': contentType, 'user-agent': UA },
      payload,
    })

  it('answers each event in order, accepted or with its own error, and puts exactly the accepted ones on the topic', async () => {
    const a = mintImpression(keys, 'live', Date.now())
    const b = mintImpression(keys, 'other', Date.now())
    const before = await topicRecordCount(topic)
    const items = [
      { t: a.token, event: 'impression' },
      { t: a.token, event: 'error', error_code: 402, ad_playhead: 1.5 },
      { t: b.token, event: 'skip', extra: 'ignored' },
      { t: tamper(a.token), event: 'start' },
      { t: mintImpression(keys, 'live', Date.now() - MAX_AGE_MS - 60_000).token, event: 'start' },
      { t: a.token, event: 'rewind' },
    ]
    const res = await post(JSON.stringify(items))
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ accepted: 3, rejected: 3 })
    expect(body.results.slice(0, 3)).toEqual([
      { status: 'accepted', event: 'impression', impression_id: a.impressionId },
      { status: 'accepted', event: 'error', impression_id: a.impressionId },
      { status: 'accepted', event: 'skip', impression_id: b.impressionId },
    ])
    expect(body.results[3]).toMatchObject({ status: 'rejected', statusCode: 403, code: 'BAD_TOKEN' })
    expect(body.results[3].message).toMatch(/body\/3\/t was refused: bad_signature/)
    expect(body.results[4]).toMatchObject({ statusCode: 403, code: 'BAD_TOKEN' })
    expect(body.results[4].message).toMatch(/expired/)
    expect(body.results[5]).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
    expect(body.results[5].message).toMatch(/^body\/5\/event/)

    expect(await topicRecordCount(topic)).toBe(before + 3)
    const ofA = await recordsOf(a.impressionId, before + 3)
    expect(ofA.map((r) => r.value.type).sort()).toEqual(['error', 'impression'])
    expect(ofA.find((r) => r.value.type === 'error')?.value).toMatchObject({
      error_code: 402,
      ad_playhead: 1.5,
    })
    const [ofB] = await recordsOf(b.impressionId, before + 3)
    expect(ofB?.key).toBe(b.impressionId)
    expect(ofB?.value).not.toHaveProperty('extra')
  })

  it('takes one event as a text/plain body (navigator.sendBeacon)', async () => {
    const served = mintImpression(keys, 'live', Date.now())
    const before = await topicRecordCount(topic)
    const res = await post(JSON.stringify({ t: served.token, event: 'complete' }), 'text/plain;charset=UTF-8')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      accepted: 1,
      rejected: 0,
      results: [{ status: 'accepted', event: 'complete', impression_id: served.impressionId }],
    })
    expect(await recordsOf(served.impressionId, before + 1)).toHaveLength(1)
  })

  it.each([
    ['malformed JSON', '[{"t":', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
    ['an empty array', '[]', 400, 'VALIDATION_FAILED'],
    [
      `more than BATCH_MAX_CLICKS (${BATCH_MAX}) events`,
      JSON.stringify(Array.from({ length: BATCH_MAX + 1 }, () => ({ t: 'x', event: 'start' }))),
      413,
      'BATCH_TOO_LARGE',
    ],
  ])('refuses %s whole, sending nothing', async (_name, payload, status, code) => {
    const before = await topicRecordCount(topic)
    const res = await post(payload)
    expect(res.statusCode).toBe(status)
    expect(res.json()).toMatchObject({ statusCode: status, code })
    await settle()
    expect(await topicRecordCount(topic)).toBe(before)
  })

  it.each([
    ['an empty object', '{}'],
    ['an event without its token', '{"event":"start"}'],
    ['a number', '42'],
  ])(
    'refuses a single event that is not one (%s) with a 400, as POST /ads/click does',
    async (_name, payload) => {
      const before = await topicRecordCount(topic)
      const res = await post(payload)
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
      await settle()
      expect(await topicRecordCount(topic)).toBe(before)
    },
  )

  it('refuses a request with no body at all (as curl -X POST sends it) with a 400, not a rejected item', async () => {
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/track/events',
      headers: { 'user-agent': UA },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' })
  })
})

describe('CORS on the tracking routes', () => {
  const preflight = (origin: string, url = '/track/events') =>
    ingest.app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })

  it('lets an allowed origin through its preflight', async () => {
    const res = await preflight(ALLOWED_ORIGIN)
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN)
    expect(String(res.headers['access-control-allow-methods'])).toContain('POST')
    expect(String(res.headers['access-control-allow-headers'])).toContain('content-type')
    expect(String(res.headers.vary)).toContain('Origin')
  })

  it('gives a disallowed origin no Access-Control-Allow-Origin', async () => {
    const res = await preflight('https://evil.example')
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('marks the actual answer for an allowed origin, not for another', async () => {
    const served = mintImpression(keys, 'live', Date.now())
    const allowed = await get(`/track/live/mute?t=${served.token}`, { origin: ALLOWED_ORIGIN })
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN)
    const other = await get(`/track/live/unmute?t=${served.token}`, { origin: 'https://evil.example' })
    expect(other.statusCode).toBe(200)
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('applies to the tracking routes only: a click route answers no preflight', async () => {
    const res = await preflight(ALLOWED_ORIGIN, '/ads/click')
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })
})
