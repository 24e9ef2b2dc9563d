import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AdAnalytics, type AdEvent, noPlaybackEvents, trackingPaths } from '@adtrack/contracts'
import { DEMO_MEDIA } from '@adtrack/db'
import { freePort, type GatewayServer } from '@adtrack/local-stack'
import {
  createTestDatabase,
  type RunningService,
  stack,
  startGatewayFor,
  startService,
  testKafka,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import { launchChromium, viewerUserAgent } from '@adtrack/test-support/chromium'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Playback, playAd } from './play-ad.js'
import { STATIC_EVENTS, staticTagRoutes } from './static-tag.js'
import { startTestSite, type TestSite } from './test-site.js'

// A real VAST player: headless Chromium loads a publisher's page that plays an ad with dailymotion's
// vast-client, as a viewer's browser would. The video plays in a <video> element at its normal speed, and
// the tracker fires the tag's URLs from the element's own events. The hand-written tag checks the harness
// alone (twice the speed: the tracker follows the element's clock, not the wall's); the full test plays
// our own tag through `npm start`'s gateway at a viewer's speed.
const log = (msg: string) => process.stderr.write(`[player-test] ${msg}\n`)
let browser: Browser
let site: TestSite
let userAgent: string
const staticTag = staticTagRoutes(() => site.url)

beforeAll(async () => {
  // First run on a fresh machine: apt-get installs Chromium (about 1 minute, progress printed).
  browser = await launchChromium(log, {
    args: [
      // A player starts its ad without a click, as one on a publisher's page does (muted autoplay would
      // also work, but this keeps the tag's unmuted state as the tracker assumes it).
      '--autoplay-policy=no-user-gesture-required',
      // The demo video has a sound track; nothing should try to open an audio device on a server.
      '--mute-audio',
    ],
  })
  userAgent = await viewerUserAgent(browser)
  site = await startTestSite(staticTag.routes)
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await site?.close()
})

describe('the player page with a tag written by hand (no services)', () => {
  it('plays the H.264 video to its end, fires each pixel once (the quartiles and complete in order), and lands through the click-through', async () => {
    const playback = await playAd(browser, site, `${site.url}/static/vast.xml`, { userAgent, rate: 2 })

    expect(playback.player.media).toEqual({
      url: `${site.url}/static/demo.mp4`,
      type: 'video/mp4',
      duration: 10,
    })
    // 10 s at 25 frames per second: the video itself played, not only its sound track.
    expect(playback.player.frames).toBeGreaterThanOrEqual(200)
    const arrived = staticTag.pixels.map((p) => p.event)
    expect([...arrived].sort()).toEqual(['impression', ...STATIC_EVENTS].sort())
    // The impression and start go out within moments of each other, on connections of their own, so only
    // what is seconds apart has an order the server must see.
    expect(arrived.slice(2)).toEqual(['firstQuartile', 'midpoint', 'thirdQuartile', 'complete'])
    // The player substitutes the macros a tag carries.
    for (const { query } of staticTag.pixels) {
      expect(query.get('cb')).toMatch(/^\d{8}$/)
      expect(query.get('ap')).not.toContain('[')
    }
    expect(playback.player.fired).toEqual(['creativeView', ...STATIC_EVENTS, 'clickthrough'])
    expect(playback.landing).toEqual({
      url: `${site.url}/landing/static`,
      status: 200,
      redirectedFrom: `${site.url}/static/clickthrough`,
    })
  })
})

describe('the player against our services, through the gateway', () => {
  const adId = 'vast-player'
  let db: Awaited<ReturnType<typeof createTestDatabase>>
  let ingest: RunningService
  let worker: RunningService
  let analytics: RunningService
  let gateway: GatewayServer
  let work: string
  let targetUrl: string
  let playback: Playback
  const topic = uniqueName('player_events')
  const groupId = uniqueName('player_workers')

  beforeAll(async () => {
    db = await createTestDatabase()
    const gatewayPort = await freePort()
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
    targetUrl = `${site.url}/landing/${adId}`
    // The advertiser's page is the test site's, so that the redirect's destination really loads.
    await db.sql`insert into ads ${db.sql({
      id: adId,
      title: 'Player test ad',
      image_url: `${site.url}/landing/${adId}.jpg`,
      target_url: targetUrl,
      status: 'active',
      ...DEMO_MEDIA,
      media_url: `${gatewayUrl}/media/demo.mp4`,
    })}`
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: stack().redisUrl,
      KAFKA_BROKERS: stack().kafkaBrokers.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_TOPIC_PARTITIONS: '2',
      KAFKA_GROUP_ID: groupId,
      REDIS_KEY_PREFIX: `${uniqueName('player')}:`,
      LOG_LEVEL: 'warn',
    }
    // As npm start runs them (local-stack services.ts), except that the worker keeps its bot filter on:
    // the player is a browser, and must be counted as one.
    ingest = await startService('ingest-api', { ...env, TRUSTED_PROXIES: '127.0.0.1,::1' })
    ;[worker, analytics] = await Promise.all([
      startService('click-worker', env),
      startService('analytics-api', { ...env, PUBLIC_BASE_URL: gatewayUrl }),
    ])
    work = await mkdtemp(join(tmpdir(), 'adtrack-player-'))
    gateway = await startGatewayFor({ ingest, analytics }, { dir: join(work, 'gateway'), port: gatewayPort })
  })

  afterAll(async () => {
    await gateway?.stop()
    await Promise.all([ingest, worker, analytics].filter(Boolean).map((s) => s.stop()))
    await db?.drop()
    if (work) await rm(work, { recursive: true, force: true })
  })

  const analyticsOf = async (): Promise<AdAnalytics> => {
    const res = await fetch(`${gateway.url}/ads/analytics?ad_id=${adId}`)
    expect(res.status).toBe(200)
    return (await res.json()) as AdAnalytics
  }

  /** True once the worker has committed every record ingest-api put on the topic so far. */
  async function workerCaughtUp(): Promise<true | undefined> {
    const admin = testKafka().admin()
    await admin.connect()
    try {
      const ends = await admin.fetchTopicOffsets(topic)
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const done = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]))
      // An impression's events share its partition, so the other partition may have had nothing (-1).
      const caughtUp = (p: { partition: number; high: string; low: string }) =>
        p.high === p.low || (done.get(p.partition) ?? -1) >= Number(p.high)
      return ends.every(caughtUp) ? true : undefined
    } finally {
      await admin.disconnect()
    }
  }

  /**
   * The figures once the impression, the completion and the click are in and the worker has applied
   * everything on the topic: a second count of anything would show by then.
   */
  async function settledAnalytics(): Promise<AdAnalytics> {
    let last: AdAnalytics | undefined
    await waitFor(
      async () => {
        last = await analyticsOf()
        const seen = last.impressions >= 1 && last.events.complete >= 1 && last.click_count >= 1
        return seen ? workerCaughtUp() : undefined
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `the impression, completion and click of ad ${adId}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last reply ${JSON.stringify(last)}`)
    })
    return analyticsOf()
  }

  /** The figures one view produces, and the ones that must stay zero or empty. */
  const figures = (a: AdAnalytics) => ({
    impressions: a.impressions,
    events: a.events,
    errors: a.errors,
    click_count: a.click_count,
    ctr: a.ctr,
    completion_rate: a.completion_rate,
    invalid_click_count: a.invalid_click_count,
    invalid_event_count: a.invalid_event_count,
  })
  const oneView: ReturnType<typeof figures> = {
    impressions: 1,
    events: {
      ...noPlaybackEvents(),
      start: 1,
      first_quartile: 1,
      midpoint: 1,
      third_quartile: 1,
      complete: 1,
    },
    errors: {},
    click_count: 1,
    ctr: 1,
    completion_rate: 1,
    invalid_click_count: 0,
    invalid_event_count: 0,
  }

  it('plays our VAST tag to its end, fires every tracking URL, and the click-through lands on the ad’s target_url', async () => {
    playback = await playAd(browser, site, `${gateway.url}/ads/${adId}/vast`, { userAgent })

    expect(playback.player.media).toEqual({
      url: `${gateway.url}/media/demo.mp4`,
      type: 'video/mp4',
      duration: 10,
    })
    expect(playback.player.fired).toEqual([
      'creativeView',
      'start',
      'firstQuartile',
      'midpoint',
      'thirdQuartile',
      'complete',
      'clickthrough',
    ])
    // Impression, start, the quartiles, complete, and the click's <ClickTracking> beside its <ClickThrough>:
    // each fired once and answered. The click pixel and the click-through are one click.
    const pixels = playback.requests.filter((r) => r.url.startsWith(`${gateway.url}/track/`))
    const clickThrough = trackingPaths.clickThrough(adId)
    const pixelPaths = pixels.map((r) => new URL(r.url).pathname).filter((p) => p !== clickThrough)
    const fired: AdEvent[] = [
      'impression',
      'start',
      'first_quartile',
      'midpoint',
      'third_quartile',
      'complete',
      'click',
    ]
    expect(pixelPaths.sort()).toEqual(fired.map((e) => trackingPaths.pixel(adId, e)).sort())
    for (const pixel of pixels) expect([200, 204, 302], pixel.url).toContain(pixel.status)
    expect(playback.landing.url).toBe(targetUrl)
    expect(playback.landing.status).toBe(200)
    expect(playback.landing.redirectedFrom?.split('?')[0]).toBe(`${gateway.url}${clickThrough}`)

    expect(figures(await settledAnalytics())).toEqual(oneView)
  })

  it('counts nothing more when the player fires every tracking URL of that view again', async () => {
    expect(playback, 'the first test played the ad').toBeDefined()
    const again = playback.requests.filter((r) => r.url.startsWith(`${gateway.url}/track/`)).map((r) => r.url)
    const page = await browser.newPage({ userAgent })
    try {
      await page.goto(`${site.url}/landing/replay`)
      // As a player that retries would: the same URLs, tokens included, from the same browser. The answers
      // are opaque to a page (no CORS, as for an <img>), so only their arrival is checked here.
      const answered = await page.evaluate(
        (urls) => Promise.all(urls.map((u) => fetch(u, { mode: 'no-cors' }).then((r) => r.type))),
        again,
      )
      expect(answered).toEqual(again.map(() => 'opaque'))
    } finally {
      await page.close()
    }
    expect(figures(await settledAnalytics())).toEqual(oneView)
  })
})
