import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AdAnalytics, AdEvent, ErrorBody } from '@adtrack/contracts'
import { waitFor } from '@adtrack/test-support'
import { launchChromium } from '@adtrack/test-support/chromium'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { axeViolations, horizontalOverflow, type PageWatch, watchPage } from './page-checks.js'
import { type DashboardStack, startDashboardStack } from './stack.js'
import { FULL_VIEW, sendClick, sendView } from './traffic.js'

// The advertisers' dashboard in headless Chromium, served by analytics-api behind `npm start`'s gateway,
// with the real services, Kafka, PostgreSQL and Redis behind it: what an advertiser's browser gets.
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const shots = join(repoRoot, 'test-results', 'dashboard')
const log = (msg: string) => process.stderr.write(`[dashboard-test] ${msg}\n`)
/** Issue 13: traffic shows on the page within 5 s, without a reload. */
const LIVE_MS = 5_000
const WIDTHS = { phone: { width: 375, height: 812 }, desktop: { width: 1440, height: 900 } }

let browser: Browser
let s: DashboardStack

beforeAll(async () => {
  // First run on a fresh machine: apt-get installs Chromium (about 1 minute, progress printed).
  ;[browser, s] = await Promise.all([launchChromium(log), startDashboardStack()])
  await mkdir(shots, { recursive: true })
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await s?.stop()
})

interface OpenPage {
  page: Page
  watch: PageWatch
  close(): Promise<void>
}

/** A page in a context of its own (its own sessionStorage), watched for dialogs, errors and CSP refusals. */
async function open(hash: string, size: keyof typeof WIDTHS = 'desktop'): Promise<OpenPage> {
  const context = await browser.newContext({ viewport: WIDTHS[size] })
  const page = await context.newPage()
  const watch = await watchPage(page)
  await page.goto(`${s.url}/dashboard/${hash}`)
  return { page, watch, close: () => context.close() }
}

/** Nothing the page must never do: no dialog, no uncaught error, no CSP refusal. */
async function expectClean({ watch }: OpenPage) {
  expect(watch.dialogs).toEqual([])
  expect(watch.errors).toEqual([])
  expect(await watch.cspViolations()).toEqual([])
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim()
const stat = (page: Page, name: string) => text(page, `[data-stat="${name}"]`)
const count = async (page: Page, name: string) => Number((await stat(page, name)).replace(/,/g, ''))
/** The DOM, polled until it says what it should (no fixed sleep), at most `timeout` ms. */
const poll = <T>(read: () => T | Promise<T>, timeout = LIVE_MS) =>
  expect.poll(read, { timeout, interval: 100 })

async function analyticsOf(adId: string): Promise<AdAnalytics> {
  const res = await fetch(`${s.url}/ads/analytics?ad_id=${encodeURIComponent(adId)}`)
  expect(res.status).toBe(200)
  return (await res.json()) as AdAnalytics
}

async function createAdByApi(body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${s.url}/ads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminKey}` },
    body: JSON.stringify(body),
  })
  expect(res.status, await res.clone().text()).toBe(201)
}

describe('the dashboard, served at /dashboard/', () => {
  it('answers its page with a Content-Security-Policy that allows no inline script or style', async () => {
    const res = await fetch(`${s.url}/dashboard/`)
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("style-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    // Vite's build references its files only: the policy would refuse anything written inline.
    const html = await res.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/<style|style="/)
  })

  it('opens on the overview with today’s figures, and the ads page lists the demo ads', async () => {
    const view = await open('#/overview')
    const { page } = view
    try {
      await poll(() => stat(page, 'today-impressions')).toMatch(/^\d/)
      expect(await text(page, 'h1')).toBe('Overview')
      for (const name of ['today-clicks', 'hour-impressions', 'hour-clicks', 'today-ctr', 'invalid-share']) {
        expect(await stat(page, name), name).not.toBe('')
      }
      expect(await page.locator('[role="alert"]').count()).toBe(0)
      // The ads list page knows the demo ads (their titles feed the top lists).
      const ads = await open('#/ads')
      try {
        await poll(() => ads.page.locator('[data-ad-title]').allTextContents()).toEqual(
          Array.from({ length: 10 }, (_, i) => `Demo ad ${i + 1}`),
        )
        await expectClean(ads)
      } finally {
        await ads.close()
      }
      await expectClean(view)
    } finally {
      await view.close()
    }
  })

  it('shows clicks and VAST events sent meanwhile within 5 s: the numbers, the per-minute chart and the top ads', async () => {
    const view = await open('#/overview')
    const { page } = view
    const requests: Request[] = []
    page.on('request', (r) => requests.push(r))
    try {
      await poll(() => stat(page, 'today-impressions')).toMatch(/^\d/)
      const before = {
        today: await count(page, 'today-impressions'),
        clicks: await count(page, 'today-clicks'),
        hour: await count(page, 'hour-impressions'),
      }
      requests.length = 0

      // Four full views and a click on demo ad 3, two views stopped after start on demo ad 5, two more
      // clicks on ad 3: 6 impressions, 3 clicks, ad 3 first by clicks.
      await Promise.all([
        ...Array.from({ length: 4 }, () => sendView(s.url, s.trackingKeys, '3', FULL_VIEW)),
        ...Array.from({ length: 2 }, () => sendView(s.url, s.trackingKeys, '5', ['start'])),
      ])
      for (let i = 0; i < 3; i++) expect((await sendClick(s.url, '3')).status).toBe(202)

      await poll(() => count(page, 'today-impressions')).toBe(before.today + 6)
      await poll(() => count(page, 'today-clicks')).toBe(before.clicks + 3)
      await poll(() => count(page, 'hour-impressions')).toBe(before.hour + 6)
      // The chart's caption is written from the same arrays the chart is drawn from.
      await poll(() => text(page, '[data-chart-summary]')).toContain(
        `${before.hour + 6} impressions and ${before.clicks + 3} clicks in the last`,
      )
      await poll(() => page.locator('[data-top="clicks"] li a').first().textContent()).toBe('Demo ad 3')
      await poll(() => page.locator('[data-top="impressions"] li a').allTextContents()).toEqual([
        'Demo ad 3',
        'Demo ad 5',
      ])

      // Live, conditionally: every request since is the one overview request (never one per ad), and a
      // quiet system answers it 304 to the ETag the page sends back.
      const overview = (r: Request) => new URL(r.url()).pathname === '/analytics/overview'
      await poll(async () => {
        for (const r of requests.filter(overview)) {
          const res = await r.response()
          if (res?.status() === 304 && (await r.allHeaders())['if-none-match']) return true
        }
        return false
      }, 15_000).toBe(true)
      const paths = requests.map((r) => new URL(r.url()).pathname)
      expect(paths.filter((p) => p !== '/analytics/overview')).toEqual([])
      await expectClean(view)
    } finally {
      await view.close()
    }
  })

  it('asks nothing while the tab is hidden, and asks at once when it is shown again', async () => {
    const context = await browser.newContext({ viewport: WIDTHS.desktop })
    const page = await context.newPage()
    try {
      // The page's clock is the test's: 20 s pass in an instant, and no request can be put down to timing.
      await page.clock.install()
      const asked: Request[] = []
      const done = new Set<Request>()
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/analytics/overview') asked.push(r)
      })
      page.on('requestfinished', (r) => done.add(r))
      page.on('requestfailed', (r) => done.add(r))
      await page.goto(`${s.url}/dashboard/#/overview`)
      await poll(() => stat(page, 'today-impressions')).toMatch(/^\d/)
      // Visible: each 2 s of the page's time asks again.
      await poll(async () => {
        await page.clock.runFor(500)
        return asked.length
      }).toBeGreaterThanOrEqual(3)

      const setHidden = (hidden: boolean) =>
        page.evaluate((h) => {
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
          Object.defineProperty(document, 'visibilityState', {
            configurable: true,
            get: () => (h ? 'hidden' : 'visible'),
          })
          document.dispatchEvent(new Event('visibilitychange'))
        }, hidden)
      await setHidden(true)
      // A request already on its way when the tab hid finishes; then the page's next tick finds it hidden.
      await poll(() => asked.every((r) => done.has(r))).toBe(true)
      await page.clock.runFor(2_500)
      const whileHidden = asked.length
      await page.clock.runFor(20_000)
      expect(asked.length).toBe(whileHidden)

      await setHidden(false)
      await poll(() => asked.length).toBe(whileHidden + 1)
    } finally {
      await context.close()
    }
  })

  it('says clearly when the API cannot be reached, and recovers by itself when it can', async () => {
    const context = await browser.newContext({ viewport: WIDTHS.desktop })
    const page = await context.newPage()
    try {
      await page.route('**/analytics/overview**', (route) => route.abort('connectionrefused'))
      await page.goto(`${s.url}/dashboard/#/overview`)
      await poll(() => text(page, '[role="alert"]')).toMatch(/cannot be reached/)
      await page.screenshot({ path: join(shots, 'overview-unreachable.png') })
      await page.unroute('**/analytics/overview**')
      await poll(() => page.locator('[role="alert"]').count()).toBe(0)
      await poll(() => stat(page, 'today-impressions')).toMatch(/^\d/)
    } finally {
      await context.close()
    }
  })

  describe('ads management with the admin key', () => {
    const id = `dash-${Date.now().toString(36)}`
    const title = 'Spring sale (dashboard test)'

    it('creates an ad through the page; it shows with no traffic, becomes clickable, its funnel matches GET /ads/analytics, and it can be paused', async () => {
      const view = await open('#/ads')
      const { page } = view
      const authorized: string[] = []
      page.on('request', (r) => {
        if (r.headers().authorization) authorized.push(`${r.method()} ${new URL(r.url()).pathname}`)
      })
      try {
        await page.getByLabel('Admin key').fill(s.adminKey)
        await page.getByRole('button', { name: 'Use key' }).click()
        await page.getByRole('button', { name: 'New ad' }).click()
        await page.getByLabel('Id (optional', { exact: false }).fill(id)
        await page.getByLabel('Title', { exact: true }).fill(title)
        await page.getByLabel('Landing page URL').fill('https://example.com/spring')
        await page.getByLabel('Image URL').fill('https://example.com/spring.jpg')
        await page.getByLabel('This ad has a video').check()
        await page.getByLabel('Video URL').fill(`${s.url}/media/demo.mp4`)
        await page.getByRole('button', { name: 'Create ad' }).click()
        await poll(() => text(page, '[role="status"].notice')).toBe(`Created “${title}”.`)
        const row = page.locator(`tr[data-ad="${id}"]`)
        await poll(() => row.locator('[data-ad-status]').textContent()).toBe('active')
        expect(authorized).toEqual(['POST /ads'])
        // The key is in this tab's sessionStorage, nowhere else, and in no URL the page asked for.
        expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([s.adminKey])
        expect(await page.evaluate(() => localStorage.length)).toBe(0)
        expect(page.url()).not.toContain(s.adminKey)

        // Its page before any traffic: the empty state, and the VAST tag to put in a player.
        await row.getByRole('link', { name: title }).click()
        await poll(() => text(page, 'h1')).toBe(title)
        await poll(() => page.getByText('No traffic yet', { exact: false }).count()).toBe(1)
        expect(await page.getByLabel('VAST tag URL').inputValue()).toBe(`${s.url}/ads/${id}/vast`)
        await page.screenshot({ path: join(shots, 'ad-empty.png'), fullPage: true })

        // Clickable once ingest-api's catalogue has it (within about 2 s): a click through the API counts.
        await waitFor(async () => ((await sendClick(s.url, id)).status === 202 ? true : undefined), {
          timeoutMs: 10_000,
          intervalMs: 200,
          what: `ingest-api to accept clicks on ${id}`,
        })
        // Four views: one to the end, one to the midpoint, one that only started, one never started.
        const views: AdEvent[][] = [FULL_VIEW, ['start', 'first_quartile', 'midpoint'], ['start'], []]
        await Promise.all(views.map((events) => sendView(s.url, s.trackingKeys, id, events)))
        const expected = await waitFor(
          async () => {
            const a = await analyticsOf(id)
            return a.impressions === 4 && a.events.complete === 1 && a.click_count === 1 ? a : undefined
          },
          {
            timeoutMs: 20_000,
            intervalMs: 200,
            what: `the views and the click of ${id} in GET /ads/analytics`,
          },
        )
        const funnel = {
          impression: expected.impressions,
          start: expected.events.start,
          first_quartile: expected.events.first_quartile,
          midpoint: expected.events.midpoint,
          third_quartile: expected.events.third_quartile,
          complete: expected.events.complete,
        }
        expect(funnel).toEqual({
          impression: 4,
          start: 3,
          first_quartile: 2,
          midpoint: 2,
          third_quartile: 1,
          complete: 1,
        })
        for (const [step, n] of Object.entries(funnel)) {
          await poll(() => text(page, `tr[data-funnel="${step}"] [data-funnel-count]`)).toBe(String(n))
        }
        await poll(() => stat(page, 'ad-clicks')).toBe('1')
        expect(await stat(page, 'ad-ctr')).toBe('25%')
        expect(await stat(page, 'ad-completion')).toBe('25%')
        expect(await page.getByText('No traffic yet', { exact: false }).count()).toBe(0)

        // Paused from the list: the page says so, the API agrees, and ingest-api stops taking its clicks.
        await page.getByRole('link', { name: '← All ads' }).click()
        await poll(() => row.locator('[data-ad-stat="clicks"]').textContent()).toBe('1')
        await page.getByRole('button', { name: `Pause ${title}` }).click()
        await poll(() => row.locator('[data-ad-status]').textContent()).toBe('paused')
        const stored = await (await fetch(`${s.url}/ads/${id}`)).json()
        expect(stored).toMatchObject({ id, title, status: 'paused' })
        await waitFor(async () => ((await sendClick(s.url, id)).status === 404 ? true : undefined), {
          timeoutMs: 10_000,
          intervalMs: 200,
          what: `ingest-api to refuse clicks on the paused ${id}`,
        })
        expect(authorized).toEqual(['POST /ads', `PATCH /ads/${id}`])
        await expectClean(view)
      } finally {
        await view.close()
      }
    })

    it('shows the API’s own words when the admin key is wrong', async () => {
      const wrongKey = 'not-the-admin-key-0000'
      const direct = await fetch(`${s.url}/ads/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${wrongKey}` },
        body: JSON.stringify({ status: 'active' }),
      })
      expect(direct.status).toBe(403)
      const { message } = (await direct.json()) as ErrorBody

      const view = await open('#/ads')
      const { page } = view
      try {
        await page.getByLabel('Admin key').fill(wrongKey)
        await page.getByRole('button', { name: 'Use key' }).click()
        await page.getByRole('button', { name: `Resume ${title}` }).click()
        await poll(() => text(page, '[role="alert"]')).toBe(message)
        // Nothing changed.
        expect(await page.locator(`tr[data-ad="${id}"] [data-ad-status]`).textContent()).toBe('paused')
        await expectClean(view)
      } finally {
        await view.close()
      }
    })

    it('renders a title written as HTML as text, in the list, on its page and in the top ads', async () => {
      const xssId = `xss-${Date.now().toString(36)}`
      const xss = '<img src=x onerror=alert(1)>'
      await createAdByApi({
        id: xssId,
        title: xss,
        image_url: 'https://example.com/x.jpg',
        target_url: 'https://example.com/x',
      })
      await waitFor(async () => ((await sendClick(s.url, xssId)).status === 202 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 200,
        what: `ingest-api to accept clicks on ${xssId}`,
      })
      for (const [hash, selector] of [
        ['#/ads', `tr[data-ad="${xssId}"] [data-ad-title]`],
        [`#/ads/${xssId}`, 'h1'],
        ['#/overview', `[data-top="clicks"] a[href="#/ads/${xssId}"]`],
      ] as const) {
        const view = await open(hash)
        try {
          await poll(() => view.page.locator(selector).first().textContent(), 10_000).toBe(xss)
          expect(await view.page.locator('img').count(), hash).toBe(0)
          await expectClean(view)
        } finally {
          await view.close()
        }
      }
    })
  })

  it('can be used by keyboard alone, with a visible focus', async () => {
    const view = await open('#/overview')
    const { page } = view
    try {
      await poll(() => stat(page, 'today-impressions')).toMatch(/^\d/)
      const focused = () =>
        page.evaluate(() => {
          const el = document.activeElement as HTMLElement
          const style = getComputedStyle(el)
          return {
            text: el.textContent?.trim(),
            outline: style.outlineStyle !== 'none' && style.outlineWidth !== '0px',
          }
        })
      await page.keyboard.press('Tab')
      expect(await focused()).toEqual({ text: 'Skip to content', outline: true })
      await page.keyboard.press('Tab')
      await page.keyboard.press('Tab')
      expect(await focused()).toEqual({ text: 'Ads', outline: true })
      await page.keyboard.press('Enter')
      await poll(() => text(page, 'h1')).toBe('Ads')
      await page.getByRole('button', { name: 'New ad' }).focus()
      await page.keyboard.press('Enter')
      await poll(() => page.getByLabel('Title', { exact: true }).count()).toBe(1)
      await expectClean(view)
    } finally {
      await view.close()
    }
  })

  describe.each(Object.keys(WIDTHS) as (keyof typeof WIDTHS)[])('each view at %s width', (size) => {
    it.each([
      ['overview', '#/overview', '[data-stat="today-impressions"]'],
      ['ads', '#/ads', '[data-ad-title]'],
      ['ad', '#/ads/3', '[data-funnel-count]'],
    ])(
      '%s: no serious or critical axe finding, no sideways scroll, a screenshot',
      async (name, hash, ready) => {
        const view = await open(hash, size)
        const { page } = view
        try {
          await page.waitForSelector(ready)
          // The chart has drawn (uPlot adds its canvas when it is built).
          if (name !== 'ads') await page.waitForSelector('.chart-canvas canvas')
          const file = join(shots, `${name}-${WIDTHS[size].width}.png`)
          await page.screenshot({ path: file, fullPage: true })
          expect(await axeViolations(page)).toEqual([])
          expect(await horizontalOverflow(page)).toEqual({ overflow: 0, culprits: [] })
          // `npm run screenshots` refreshes the README's picture from this run.
          if (process.env.UPDATE_README_SCREENSHOT && name === 'overview' && size === 'desktop') {
            await copyFile(file, join(repoRoot, 'docs', 'dashboard.png'))
          }
          await expectClean(view)
        } finally {
          await view.close()
        }
      },
    )
  })
})
