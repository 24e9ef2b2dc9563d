import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import type { TestSite } from './test-site.js'

/** What the page exposes as window.player (player.html). */
export interface PlayerState {
  state: 'loading' | 'playing' | 'ended' | 'failed'
  /** The tracker's events in the order it fired them (creativeView comes with the impression). */
  fired: string[]
  media: { url: string; type: string; duration: number } | null
  /** Video frames the element decoded by the end (getVideoPlaybackQuality). */
  frames: number
  clickThrough?: string
  error: string | null
}

/** One request the browser made, with its final status or why it failed. */
export interface SeenRequest {
  url: string
  status: number | string
  /** For a redirect's target: the URL that redirected to it. */
  redirectedFrom: string | undefined
}

export interface Playback {
  player: PlayerState
  /** Every request of the player's tab and of the tab the click-through opened, in order. */
  requests: SeenRequest[]
  /** The document the click-through's tab ended on (after redirects). */
  landing: SeenRequest
  /** The pages' console and uncaught errors, for a failure's message. */
  console: string[]
}

/**
 * Plays the ad of the VAST tag at `tagUrl` to its end in a fresh browser context, then clicks the player's
 * button as a viewer would and waits for the tab the click-through opens to load. Throws, with the page's
 * state and console, if the player fails or does not reach the end in time.
 */
export async function playAd(
  browser: Browser,
  site: TestSite,
  tagUrl: string,
  { rate = 1, timeoutMs = 30_000, userAgent }: { rate?: number; timeoutMs?: number; userAgent?: string } = {},
): Promise<Playback> {
  const context = await browser.newContext(userAgent ? { userAgent } : {})
  const consoleLines: string[] = []
  const requests = watchRequests(context)
  try {
    const page = await context.newPage()
    page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`))
    page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`))
    const explain = async (what: string) =>
      `${what}\nplayer: ${JSON.stringify(await readPlayer(page))}\nrequests: ${JSON.stringify(requests.list(), null, 1)}\n${consoleLines.join('\n')}`

    await page.goto(site.playerUrl(tagUrl, { rate }))
    const outcome = await page
      .waitForFunction(
        () => {
          const state = (window as unknown as { player?: PlayerState }).player?.state
          return state === 'ended' || state === 'failed' ? state : false
        },
        undefined,
        { timeout: timeoutMs, polling: 100 },
      )
      .then((handle) => handle.jsonValue())
      .catch(async (err: Error) => {
        throw new Error(await explain(err.message))
      })
    if (outcome === 'failed') throw new Error(await explain('the player failed'))

    // The tracker fires pixels with `new Image()` and never waits for them: let each one answer before the
    // click, so that the server sees the events in the order the viewer produced them.
    await requests.settled(timeoutMs)
    const [tab] = await Promise.all([
      context.waitForEvent('page', { timeout: timeoutMs }),
      page.click('#ad-click'),
    ])
    await tab.waitForLoadState('load', { timeout: timeoutMs })
    await requests.settled(timeoutMs)
    const landing = requests.list().findLast((r) => r.url === tab.url())
    if (!landing) throw new Error(await explain(`no request loaded the click-through's tab (${tab.url()})`))
    const player = await readPlayer(page)
    if (!player) throw new Error(await explain('the page lost window.player'))
    return { player, requests: requests.list(), landing, console: consoleLines }
  } finally {
    await context.close()
  }
}

function readPlayer(page: Page): Promise<PlayerState | undefined> {
  return page.evaluate(() => (window as unknown as { player?: PlayerState }).player)
}

function watchRequests(context: BrowserContext) {
  const seen: { request: Request; status: number | string | undefined }[] = []
  const settle = (request: Request, status: number | string) => {
    const entry = seen.find((s) => s.request === request)
    if (entry) entry.status = status
  }
  context.on('request', (request) => {
    seen.push({ request, status: undefined })
  })
  context.on('requestfinished', async (request) => {
    settle(request, (await request.response())?.status() ?? 'no response')
  })
  context.on('requestfailed', (request) => {
    settle(request, request.failure()?.errorText ?? 'failed')
  })
  return {
    list: (): SeenRequest[] =>
      seen.map(({ request, status }) => ({
        url: request.url(),
        status: status ?? 'pending',
        redirectedFrom: request.redirectedFrom()?.url(),
      })),
    async settled(timeoutMs: number) {
      const deadline = Date.now() + timeoutMs
      while (seen.some((s) => s.status === undefined)) {
        if (Date.now() > deadline) {
          const pending = seen.filter((s) => s.status === undefined).map((s) => s.request.url())
          throw new Error(`requests still pending after ${timeoutMs} ms: ${pending.join(', ')}`)
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}
