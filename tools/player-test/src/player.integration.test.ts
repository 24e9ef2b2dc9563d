import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, viewerUserAgent } from './chromium.js'
import { playAd } from './play-ad.js'
import { STATIC_EVENTS, staticTagRoutes } from './static-tag.js'
import { startTestSite, type TestSite } from './test-site.js'

// A real VAST player: headless Chromium loads a publisher's page that plays an ad with dailymotion's
// vast-client, as a viewer's browser would. The video plays in a <video> element at its normal speed, and
// the tracker fires the tag's URLs from the element's own events.
const log = (msg: string) => process.stderr.write(`[player-test] ${msg}\n`)
let browser: Browser
let site: TestSite
let userAgent: string
const staticTag = staticTagRoutes(() => site.url)

beforeAll(async () => {
  // First run on a fresh machine: apt-get installs Chromium (about 1 minute, progress printed).
  browser = await launchChromium(log)
  userAgent = await viewerUserAgent(browser)
  site = await startTestSite(staticTag.routes)
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await site?.close()
})

describe('the player page with a tag written by hand (no services)', () => {
  it('plays the H.264 video to its end, fires the impression and each quartile once, in order, and lands through the click-through', async () => {
    const playback = await playAd(browser, site, `${site.url}/static/vast.xml`, { userAgent })

    expect(playback.player.media).toEqual({
      url: `${site.url}/static/demo.mp4`,
      type: 'video/mp4',
      duration: 10,
    })
    expect(staticTag.pixels.map((p) => p.event)).toEqual(['impression', ...STATIC_EVENTS])
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
