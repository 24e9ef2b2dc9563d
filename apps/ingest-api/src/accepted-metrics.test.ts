import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IngestConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import { mintImpression, parseTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AdCatalog } from './ad-catalog.js'
import type { BatchSender } from './click-producer.js'
import { createIngest, type Ingest } from './ingest.js'

// clicks_accepted_total{route} and tracking_events_accepted_total{route,event}: what the alerts
// (ClickBacklogGrowing, NoClicks) and the dashboard count, read from ingest-api's own /metrics text.
// Kafka is a stand-in that acknowledges everything, or nothing; nothing listens on the network.

const KEYS = 'k1:unit-test-tracking-key-0123456789abcdef'
const keys = parseTrackingKeys(KEYS)
let dir: string
let ingest: Ingest | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingest-accepted-test-'))
})
afterEach(async () => {
  await ingest?.close()
  ingest = undefined
  await rm(dir, { recursive: true, force: true })
})

const catalog = {
  accepts: (id: string) => id === 'ad-1',
  targetUrl: (id: string) => (id === 'ad-1' ? 'https://advertiser.example/' : undefined),
  age: 0,
  size: 1,
} as unknown as AdCatalog

async function setup(kafka: 'up' | 'down', spoolMaxBytes = 1 << 20): Promise<Ingest> {
  const sender: BatchSender = {
    sendBatch: async () => {
      if (kafka === 'down') throw new Error('connect ECONNREFUSED')
      return []
    },
  }
  const config = {
    ...loadConfig(IngestConfig, {
      LOG_LEVEL: 'silent',
      WRITE_TIMEOUT: '1s',
      RATE_LIMIT_MAX: '0',
      TRACKING_TOKEN_KEYS: KEYS,
    }),
    SPOOL_DIR: dir,
    SPOOL_MAX_BYTES: spoolMaxBytes,
    SPOOL_HIGH_WATER_PERCENT: 100,
  }
  ingest = await createIngest(config, {
    sender,
    catalog,
    producer: { lingerMs: 0, maxBatch: 100, maxInFlight: 1, retries: 0, minBackoffMs: 1, maxBackoffMs: 2 },
  })
  return ingest
}

/** The value of each sample of a metric, keyed by its labels as written in the exposition. */
async function samples(i: Ingest, metric: string): Promise<Record<string, number>> {
  const text = await i.metrics.registry.metrics()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = (m[1] as string)
      .split(',')
      .filter((l) => !l.startsWith('service='))
      .join(',')
    out[labels] = Number(m[2])
  }
  return out
}

const click = { ad_id: 'ad-1', playback_time: 3 }

describe('clicks_accepted_total{route}', () => {
  it('is exported for both click routes at zero before any click', async () => {
    const i = await setup('up')
    expect(await samples(i, 'clicks_accepted_total')).toEqual({
      'route="/ads/click"': 0,
      'route="/ads/clicks"': 0,
    })
  })

  it('counts one per 202 of POST /ads/click and one per accepted item of POST /ads/clicks', async () => {
    const i = await setup('up')
    expect((await i.app.inject({ method: 'POST', url: '/ads/click', payload: click })).statusCode).toBe(202)
    // Unknown ad and a malformed item: answered 200 with their own errors, not counted.
    const batch = await i.app.inject({
      method: 'POST',
      url: '/ads/clicks',
      payload: [click, click, { ad_id: 'no-such-ad', playback_time: 1 }, { ad_id: 'ad-1' }, click],
    })
    expect(batch.statusCode).toBe(200)
    expect(batch.json().accepted).toBe(3)
    expect(
      (await i.app.inject({ method: 'POST', url: '/ads/click', payload: { ad_id: 'x' } })).statusCode,
    ).toBe(400)
    expect(await samples(i, 'clicks_accepted_total')).toEqual({
      'route="/ads/click"': 1,
      'route="/ads/clicks"': 3,
    })
  })

  it('does not count a click refused with 503 (neither Kafka nor the spool took it)', async () => {
    const i = await setup('down', 1)
    const res = await i.app.inject({ method: 'POST', url: '/ads/click', payload: click })
    expect(res.statusCode).toBe(503)
    const batch = await i.app.inject({ method: 'POST', url: '/ads/clicks', payload: [click] })
    expect(batch.json().accepted).toBe(0)
    expect(await samples(i, 'clicks_accepted_total')).toEqual({
      'route="/ads/click"': 0,
      'route="/ads/clicks"': 0,
    })
  })
})

describe('tracking_events_accepted_total{route,event}', () => {
  it('counts pixels, click-throughs and SDK items made durable, by route and event; never a refused token', async () => {
    const i = await setup('up')
    const t = () => mintImpression(keys, 'ad-1', Date.now()).token
    expect((await i.app.inject({ url: `/track/ad-1/impression?t=${t()}` })).statusCode).toBe(200)
    expect((await i.app.inject({ url: `/track/ad-1/start?t=${t()}` })).statusCode).toBe(200)
    // A refused token still gets its GIF (and the click-through its redirect): not accepted, not counted.
    expect((await i.app.inject({ url: '/track/ad-1/impression?t=forged' })).statusCode).toBe(200)
    expect((await i.app.inject({ url: '/track/ad-1/clickthrough?t=forged' })).statusCode).toBe(302)
    expect((await i.app.inject({ url: `/track/ad-1/clickthrough?t=${t()}` })).statusCode).toBe(302)
    const sdk = await i.app.inject({
      method: 'POST',
      url: '/track/events',
      payload: [
        { event: 'impression', t: t() },
        { event: 'complete', t: t() },
        { event: 'complete', t: 'forged' },
      ],
    })
    expect(sdk.json().accepted).toBe(2)
    expect(await samples(i, 'tracking_events_accepted_total')).toEqual({
      'route="/track/:ad_id/:event",event="impression"': 1,
      'route="/track/:ad_id/:event",event="start"': 1,
      'route="/track/:ad_id/clickthrough",event="impression"': 0,
      'route="/track/:ad_id/clickthrough",event="click"': 1,
      'route="/track/events",event="impression"': 1,
      'route="/track/events",event="complete"': 1,
    })
  })
})
