import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DEMO_MEDIA, giveDemoAdsMedia, seedDemoAds } from '@adtrack/db'
import { createTestDatabase, insertAds } from '@adtrack/test-support'
import type { InjectOptions } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { DEMO_VIDEO, MEDIA_DIR } from './routes/media.js'
import { analyticsApp } from './testing/analytics-app.js'

const KEY = 'media-admin-key-0123456789'
const admin = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }
const valid = { title: 'Winter sale', image_url: 'https://e.com/w.jpg', target_url: 'https://e.com/w' }
const media = {
  url: 'https://cdn.example.com/winter.mp4',
  type: 'video/mp4',
  width: 640,
  height: 360,
  duration_seconds: 15.5,
}

const api = analyticsApp('media', { env: { ADMIN_API_KEYS: KEY } })
beforeAll(async () => {
  await insertAds(api.db.sql, [{ id: 'plain' }])
})

const send = (method: 'POST' | 'PATCH', url: string, payload: unknown) =>
  api.app.inject({
    method,
    url,
    headers: admin,
    payload: JSON.stringify(payload) as InjectOptions['payload'],
  })
const adCount = async () => (await api.db.sql<{ n: number }[]>`select count(*)::int as n from ads`)[0]?.n
const read = async (id: string) => (await api.app.inject(`/ads/${id}`)).json()

describe('ads carry their video', () => {
  it('creates an ad with media and reads it back from GET /ads/:id and GET /ads', async () => {
    const res = await send('POST', '/ads', { ...valid, id: 'with-video', media })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ id: 'with-video', media })
    expect(await read('with-video')).toEqual(res.json())
    const listed = (await api.app.inject('/ads?limit=1000')).json() as { id: string; media: unknown }[]
    expect(listed.find((a) => a.id === 'with-video')?.media).toEqual(media)
  })

  it('keeps an ad without media working: media is null, on create and for older rows', async () => {
    const res = await send('POST', '/ads', valid)
    expect(res.statusCode).toBe(201)
    expect(res.json().media).toBeNull()
    expect((await send('POST', '/ads', { ...valid, media: null })).json().media).toBeNull()
    expect((await read('plain')).media).toBeNull()
  })

  it('replaces media whole with PATCH, and removes it with null', async () => {
    await send('POST', '/ads', { ...valid, id: 'patched', media })
    const webm = {
      url: 'http://e.com/v.webm',
      type: 'video/webm',
      width: 1,
      height: 8192,
      duration_seconds: 3600,
    }
    const changed = await send('PATCH', '/ads/patched', { media: webm })
    expect(changed.statusCode).toBe(200)
    expect(changed.json()).toMatchObject({ title: valid.title, media: webm })
    expect((await send('PATCH', '/ads/patched', { title: 'Renamed' })).json().media).toEqual(webm)
    const removed = await send('PATCH', '/ads/patched', { media: null })
    expect(removed.statusCode).toBe(200)
    expect((await read('patched')).media).toBeNull()
  })
})

describe('invalid media is refused with 400 naming the field, and nothing is written', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an ftp URL', { ...media, url: 'ftp://e.com/v.mp4' }, /body\/media\/url must be an absolute http/],
    ['a relative URL', { ...media, url: '/media/demo.mp4' }, /body\/media\/url/],
    ['a control character in the URL', { ...media, url: 'https://e.com/\u0001.mp4' }, /body\/media\/url/],
    ['another MIME type', { ...media, type: 'video/ogg' }, /body\/media\/type must be one of "video\/mp4"/],
    ['a zero width', { ...media, width: 0 }, /body\/media\/width must be >= 1/],
    ['a negative height', { ...media, height: -360 }, /body\/media\/height must be >= 1/],
    ['a huge width', { ...media, width: 100_000 }, /body\/media\/width must be <= 8192/],
    ['a fractional height', { ...media, height: 360.5 }, /body\/media\/height must be integer/],
    ['a zero duration', { ...media, duration_seconds: 0 }, /body\/media\/duration_seconds must be >= 0.001/],
    ['a negative duration', { ...media, duration_seconds: -1 }, /body\/media\/duration_seconds/],
    [
      'a huge duration',
      { ...media, duration_seconds: 1e300 },
      /body\/media\/duration_seconds must be <= 3600/,
    ],
    [
      'a string duration',
      { ...media, duration_seconds: '15' },
      /body\/media\/duration_seconds must be number/,
    ],
    [
      'a partial media object',
      { url: media.url, type: media.type },
      /body\/media must have required properties/,
    ],
    ['an unknown media field', { ...media, bitrate: 800 }, /body\/media\/bitrate is not an allowed property/],
    ['a string for media', 'https://e.com/v.mp4', /body\/media must be object or null/],
  ]
  it.each(cases)('POST: %s', async (_name, bad, message) => {
    const before = await adCount()
    const res = await send('POST', '/ads', { ...valid, media: bad })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', message })
    expect(await adCount()).toBe(before)
  })
  it.each(cases)('PATCH: %s', async (_name, bad, message) => {
    const res = await send('PATCH', '/ads/plain', { media: bad })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', message })
    expect((await read('plain')).media).toBeNull()
  })
})

describe("the table's checks refuse what the contract refuses", () => {
  const row = {
    media_url: media.url,
    media_type: media.type,
    media_width: media.width,
    media_height: media.height,
    media_duration_seconds: media.duration_seconds,
  }
  let n = 0
  const insert = (columns: Record<string, unknown>) =>
    api.db
      .sql`insert into ads ${api.db.sql({ id: `direct-${n++}`, title: 't', image_url: 'https://e.com/i', target_url: 'https://e.com/t', ...columns })}`

  it('accepts all five media columns, or none', async () => {
    await insert(row)
    await insert({})
  })
  it.each([
    ['a partial row', { media_url: media.url }],
    ['all but one', { ...row, media_duration_seconds: null }],
    ['an ftp URL', { ...row, media_url: 'ftp://e.com/v.mp4' }],
    ['a URL over 2048 characters', { ...row, media_url: `https://e.com/${'a'.repeat(2048)}` }],
    ['another MIME type', { ...row, media_type: 'video/ogg' }],
    ['a zero width', { ...row, media_width: 0 }],
    ['a huge height', { ...row, media_height: 8193 }],
    ['a zero duration', { ...row, media_duration_seconds: 0 }],
    ['a duration over an hour', { ...row, media_duration_seconds: 3600.5 }],
  ])('refuses %s', async (_name, columns) => {
    await expect(insert(columns)).rejects.toThrow(/violates check constraint/)
  })
})

describe('the demo video', () => {
  it('is what the seeded demo ads play', async () => {
    const seeded = await createTestDatabase()
    try {
      expect(await seedDemoAds(seeded.sql)).toBe(10)
      const rows = await seeded.sql`select media_url, media_type from ads`
      expect(rows.every((r) => r.media_url === `http://localhost:8080/media/${DEMO_VIDEO}`)).toBe(true)
      expect(DEMO_MEDIA.media_type).toBe('video/mp4')
    } finally {
      await seeded.drop()
    }
  })

  it('is given to demo ads seeded before ads carried media, and to no other ad', async () => {
    const seeded = await createTestDatabase()
    try {
      await seedDemoAds(seeded.sql)
      // A .data/ from before media: the demo ads without it; one of them retitled by an advertiser.
      await seeded.sql`update ads set media_url = null, media_type = null, media_width = null,
                         media_height = null, media_duration_seconds = null`
      await seeded.sql`update ads set title = 'Renamed' where id = '2'`
      expect(await giveDemoAdsMedia(seeded.sql)).toBe(9)
      const rows = await seeded.sql<{ id: string; media_url: string | null }[]>`select id, media_url from ads`
      expect(rows.filter((r) => r.media_url === null).map((r) => r.id)).toEqual(['2'])
      expect(await giveDemoAdsMedia(seeded.sql)).toBe(0)
    } finally {
      await seeded.drop()
    }
  })

  it('is a real MP4 under 1 MB, served whole with its type and caching headers', async () => {
    const size = (await stat(join(MEDIA_DIR, DEMO_VIDEO))).size
    expect(size).toBeLessThan(1024 * 1024)
    const res = await api.app.inject(`/media/${DEMO_VIDEO}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('video/mp4')
    expect(res.headers['accept-ranges']).toBe('bytes')
    expect(res.headers['cache-control']).toBe('public, max-age=86400')
    expect(res.headers.etag).toBeDefined()
    expect(res.rawPayload.length).toBe(size)
    // ISO base media: the first box is `ftyp` (bytes 4-7), with an MP4 brand.
    expect(res.rawPayload.subarray(4, 8).toString('latin1')).toBe('ftyp')
    expect(res.rawPayload.subarray(8, 12).toString('latin1')).toMatch(/^(isom|mp41|mp42)$/)
  })

  it('answers a Range request with 206 and just those bytes; an impossible range with 416', async () => {
    const whole = (await api.app.inject(`/media/${DEMO_VIDEO}`)).rawPayload
    const part = await api.app.inject({ url: `/media/${DEMO_VIDEO}`, headers: { range: 'bytes=100-199' } })
    expect(part.statusCode).toBe(206)
    expect(part.headers['content-range']).toBe(`bytes 100-199/${whole.length}`)
    expect(part.rawPayload).toEqual(whole.subarray(100, 200))
    const beyond = await api.app.inject({
      url: `/media/${DEMO_VIDEO}`,
      headers: { range: `bytes=${whole.length + 10}-` },
    })
    expect(beyond.statusCode).toBe(416)
  })

  it('serves nothing else from the media directory', async () => {
    expect((await api.app.inject('/media/other.mp4')).statusCode).toBe(404)
    expect((await api.app.inject('/media/../package.json')).statusCode).toBe(404)
  })
})
