import { mintImpression, parseTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { describe, expect, it, vi } from 'vitest'
import type { AdCatalog } from './ad-catalog.js'
import type { BatchSender } from './click-producer.js'
import { type SpoolIngestOptions, spoolIngests } from './testing/spool-ingest.js'

// The tracking routes' side of durability and load shedding, with a fake Kafka (sendBatch) and a real
// spool in a temporary directory, as app.test.ts does for clicks: an event is answered only once it is
// durable, and a refusal is the clicks' 503.

const KEYS = 'k1:unit-test-tracking-key-0123456789abcdef'
const keys = parseTrackingKeys(KEYS)
const ingests = spoolIngests('ingest-tracking-test-')

const catalog = {
  accepts: () => true,
  targetUrl: () => 'https://advertiser.example/',
  age: 0,
  size: 1,
} as unknown as AdCatalog

function kafka(mode: 'up' | 'down') {
  const sent: { key: string; value: Record<string, unknown> }[] = []
  const sender: BatchSender = {
    sendBatch: vi.fn(async (req) => {
      if (mode === 'down') throw new Error('connect ECONNREFUSED')
      for (const m of req.topicMessages?.[0]?.messages ?? [])
        sent.push({ key: String(m.key), value: JSON.parse(String(m.value)) })
      return []
    }),
  }
  return { sender, sent }
}

const setup = (opts: Omit<SpoolIngestOptions, 'catalog' | 'env'>) =>
  ingests.setup({ catalog, env: { TRACKING_TOKEN_KEYS: KEYS }, ...opts })

const token = () => mintImpression(keys, 'ad-1', Date.now())

describe('the tracking routes when Kafka cannot take the event', () => {
  it('answer the pixel once the event is in the spool, as Kafka would have keyed it', async () => {
    const { app, spool } = await setup({ sender: kafka('down').sender })
    const served = token()
    const res = await app.inject({ url: `/track/ad-1/start?t=${served.token}` })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('image/gif')
    const segment = await spool.nextSegment()
    expect(segment?.records.map((r) => JSON.parse(r.toString()))).toEqual([
      expect.objectContaining({ v: 2, type: 'start', impression_id: served.impressionId }),
    ])
  })

  it.each([
    ['the pixel', '/track/ad-1/impression'],
    ['the click-through', '/track/ad-1/clickthrough'],
  ])(
    'answer %s 503 SPOOL_FULL with Retry-After when the spool has no room, and no GIF or redirect',
    async (_name, path) => {
      const { app, spool, metrics } = await setup({ sender: kafka('down').sender, spoolMaxBytes: 100 })
      const res = await app.inject({ url: `${path}?t=${token().token}` })
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('5')
      expect(res.headers.location).toBeUndefined()
      expect(res.json()).toMatchObject({ statusCode: 503, code: 'SPOOL_FULL' })
      expect(spool.records).toBe(0)
      expect(await metrics.registry.getSingleMetricAsString('clicks_refused_total')).toMatch(
        /reason="spool_full"[^\n]* 1/,
      )
    },
  )

  it('reject each SDK event that is not durable in its own result, the others untouched', async () => {
    const { app } = await setup({ sender: kafka('down').sender, spoolMaxBytes: 100 })
    const res = await app.inject({
      method: 'POST',
      url: '/track/events',
      payload: [
        { t: token().token, event: 'skip' },
        { t: 'forged', event: 'skip' },
      ],
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().results).toEqual([
      expect.objectContaining({ status: 'rejected', statusCode: 503, code: 'SPOOL_FULL' }),
      expect.objectContaining({ status: 'rejected', statusCode: 403, code: 'BAD_TOKEN' }),
    ])
  })
})

describe('the tracking routes under load', () => {
  it('refuse with 503 OVERLOADED once the producer queue is full, whatever the token', async () => {
    const { sender, sent } = kafka('up')
    const { app, producer } = await setup({ sender, producer: { maxQueued: 1, lingerMs: 60_000 } })
    const first = app.inject({ url: `/track/ad-1/complete?t=${token().token}` })
    await vi.waitFor(() => expect(producer.waiting).toBe(1))
    for (const url of ['/track/ad-1/midpoint?t=forged', '/track/ad-1/clickthrough', '/track/events']) {
      const res = await app.inject({ method: url.endsWith('events') ? 'POST' : 'GET', url, payload: '{}' })
      expect(res.statusCode, url).toBe(503)
      expect(res.json(), url).toMatchObject({ code: 'OVERLOADED' })
    }
    await producer.flush()
    expect((await first).statusCode).toBe(200)
    expect(sent.map((r) => r.value.type)).toEqual(['complete'])
  })
})
