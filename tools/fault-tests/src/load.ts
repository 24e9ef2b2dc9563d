import { randomUUID } from 'node:crypto'
import { type AdEvent, impressionClickId, TRACKING_QUERY, trackingPaths } from '@adtrack/contracts'
import { mintImpression, type TrackingKeys } from '@adtrack/service-runtime/impression-token'

/** An (impression, event) pair that a pixel reported, as the stores must hold it. */
export interface SentEvent {
  adId: string
  impressionId: string
  event: Exclude<AdEvent, 'click'>
  /** The error code the pixel's [ERRORCODE] carried, for `error` only; undefined when left literal. */
  errorCode?: number
}

export interface LoadResult {
  /**
   * click_id -> ad_id of every click that was acknowledged: a 2xx for POST /ads/click, and for an
   * impression's click (`imp:<impression id>`) a 302 from its click-through or a 200 from its click pixel.
   */
  acknowledged: Map<string, string>
  /** Every click_id that was sent at least once (acknowledged or not). */
  attempted: Set<string>
  /** eventKey -> event of every pixel that got its 200 GIF. */
  acknowledgedEvents: Map<string, SentEvent>
  /** eventKey of every pixel fired at least once. */
  attemptedEvents: Set<string>
  /** Pixels and click-throughs fired again after their acknowledgement (each must change nothing). */
  duplicateFirings: number
  /** Non-2xx replies (a 302 is the click-through's acknowledgement) and network errors, each retried. */
  refusals: Map<string, number>
}

/** How LoadResult and the rig name one (impression, event) pair. */
export const eventKey = (impressionId: string, event: string): string => `${impressionId}/${event}`

/** One request of a player: a pixel of its tag, or the click-through. */
interface Firing {
  adId: string
  impressionId: string
  token: string
  userAgent: string
  what: AdEvent | 'clickthrough'
  /** The query's error_code: a code, or the macro the player left unsubstituted. */
  errorCode?: number | '[ERRORCODE]'
  adPlayhead?: string
  /** For a repeated firing: the first one's delivery, which it waits for (true once acknowledged). */
  after?: Promise<boolean>
  /** For a firing that is repeated later: settled with its delivery. */
  delivered?: Deferred
}

interface Deferred {
  promise: Promise<boolean>
  resolve: (ok: boolean) => void
}

function deferred(): Deferred {
  let resolve: (ok: boolean) => void = () => {}
  const promise = new Promise<boolean>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const QUARTILES = ['first_quartile', 'midpoint', 'third_quartile', 'complete'] as const
/** Quartiles reached by impression k (k % 10 < 9; every tenth is an error): most complete, some drop off. */
const DEPTH = [4, 4, 4, 4, 4, 4, 3, 2, 1]

/**
 * A steady stream like players send, bounded in rate, count and time; it stops by itself. Two requests
 * in five are clicks on POST /ads/click; the other three fire the tracking URLs of VAST impressions on
 * GET /track/… (tokens minted as analytics-api mints them): impression, start and quartiles with a
 * drop-off, skips, pauses, mutes, errors with and without a code, a click-through on every fourth
 * impression (every eighth also fires its click pixel: one click), and pixels fired again after their
 * 200. Like players, every request that is not acknowledged is sent again, the same URL or the same
 * click_id, after a backoff, until it is or the deadline passes.
 */
/** A LoadResult with nothing sent yet: PlayerLoad's start, and tests that send clicks their own way. */
export function emptyLoadResult(): LoadResult {
  return {
    acknowledged: new Map(),
    attempted: new Set(),
    acknowledgedEvents: new Map(),
    attemptedEvents: new Set(),
    duplicateFirings: 0,
    refusals: new Map(),
  }
}

export class PlayerLoad {
  readonly result: LoadResult = emptyLoadResult()
  private stopping = false
  private running: Promise<void> | undefined
  private readonly queue: Firing[] = []
  private impressions = 0

  constructor(
    /** ingest-api's base URL. */
    private readonly url: string,
    /** The TRACKING_TOKEN_KEYS ingest-api was given. */
    private readonly keys: TrackingKeys,
    private readonly opts: {
      /** Requests per second, clicks and pixels together (retries not counted). */
      ratePerSecond: number
      maxRequests: number
      giveUpAfterMs: number
      ads?: string[]
    },
  ) {}

  start(): this {
    this.running = this.run()
    return this
  }

  /** Stops sending new requests and waits for those in flight to be acknowledged or given up. */
  async stop(): Promise<LoadResult> {
    this.stopping = true
    await this.running
    return this.result
  }

  /** Clicks acknowledged so far. */
  get acknowledgedCount(): number {
    return this.result.acknowledged.size
  }

  private async run(): Promise<void> {
    const inFlight = new Set<Promise<unknown>>()
    const interval = 1000 / this.opts.ratePerSecond
    const ads = this.opts.ads ?? ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']
    let sent = 0
    const started = Date.now()
    while (!this.stopping && sent < this.opts.maxRequests) {
      const p =
        sent % 5 < 2 ? this.click(randomUUID(), ads[sent % ads.length] as string, sent) : this.fireNext(ads)
      const tracked = p.finally(() => inFlight.delete(tracked))
      inFlight.add(tracked)
      sent++
      const due = started + sent * interval
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())))
    }
    await Promise.all(inFlight)
  }

  private async click(clickId: string, adId: string, n: number): Promise<void> {
    const body = JSON.stringify({ ad_id: adId, playback_time: n % 3600, click_id: clickId })
    this.result.attempted.add(clickId)
    const ok = await this.deliver(`${this.url}/ads/click`, {
      method: 'POST',
      // One browser-like viewer per click, so the invalid-traffic rules leave the load alone.
      headers: { 'content-type': 'application/json', 'user-agent': playerAgent(`c${n}`) },
      body,
    })
    if (ok) this.result.acknowledged.set(clickId, adId)
  }

  private fireNext(ads: string[]): Promise<boolean> {
    if (this.queue.length === 0) this.queue.push(...this.impression(ads))
    const firing = this.queue.shift() as Firing
    return this.fire(firing)
  }

  /** The requests of one impression's player, in the order it sends them (see the class comment). */
  private impression(ads: string[]): Firing[] {
    const k = this.impressions++
    const adId = ads[k % ads.length] as string
    const { impressionId, token } = mintImpression(this.keys, adId, Date.now())
    // One viewer per impression: its click is judged by the click rules, and must not be a repeat.
    const base = { adId, impressionId, token, userAgent: playerAgent(`i${k}`) }
    const at = (what: Firing['what'], seconds?: number): Firing => ({
      ...base,
      what,
      ...(seconds === undefined ? {} : { adPlayhead: `00:00:${String(seconds).padStart(2, '0')}.250` }),
    })
    const firings: Firing[] = [at('impression')]
    if (k % 10 === 9) {
      // The player could not play the ad: an error, with a code or with the macro left literal.
      firings.push({ ...at('error'), errorCode: k % 20 === 9 ? 405 : '[ERRORCODE]' })
    } else {
      const depth = DEPTH[k % 10] as number
      firings.push(at('start', 0))
      if (k % 7 === 3) firings.push(at('mute', 1), at('unmute', 2))
      QUARTILES.slice(0, depth).forEach((q, i) => {
        firings.push(at(q, 5 * (i + 1)))
        if (i === 0 && k % 5 === 1) firings.push(at('pause', 6), at('resume', 6))
      })
      if (depth < QUARTILES.length) firings.push(at('skip', 5 * depth + 1))
      if (k % 8 === 0) firings.push(at('click', 3))
      if (k % 4 === 0) firings.push(at('clickthrough', 3))
    }
    // Pixels fired again once they got their 200 (a player's double beacon, a reload): counted once.
    const repeated = [k % 3 === 0 && firings[0], k % 6 === 0 && firings.at(-1)].filter(
      (f): f is Firing => typeof f === 'object',
    )
    const repeats = repeated.map((f) => {
      f.delivered = deferred()
      return { ...f, after: f.delivered.promise, delivered: undefined }
    })
    return [...firings, ...repeats]
  }

  private async fire(firing: Firing): Promise<boolean> {
    const repeat = firing.after !== undefined
    if (firing.after && !(await firing.after)) return false
    const { adId, impressionId, what } = firing
    const click = what === 'click' || what === 'clickthrough'
    const key = click ? impressionClickId(impressionId) : eventKey(impressionId, what)
    if (click) this.result.attempted.add(key)
    else this.result.attemptedEvents.add(key)
    const query = new URLSearchParams({
      [TRACKING_QUERY.token]: firing.token,
      [TRACKING_QUERY.cacheBusting]: String(Math.floor(Math.random() * 1e8)),
    })
    if (firing.errorCode !== undefined) query.set(TRACKING_QUERY.errorCode, String(firing.errorCode))
    if (firing.adPlayhead !== undefined) query.set(TRACKING_QUERY.adPlayhead, firing.adPlayhead)
    const path = what === 'clickthrough' ? trackingPaths.clickThrough(adId) : trackingPaths.pixel(adId, what)
    const ok = await this.deliver(
      `${this.url}${path}?${query}`,
      { headers: { 'user-agent': firing.userAgent }, redirect: 'manual' },
      what === 'clickthrough' ? 302 : 200,
    )
    if (ok) {
      if (click) this.result.acknowledged.set(key, adId)
      else
        this.result.acknowledgedEvents.set(key, {
          adId,
          impressionId,
          event: what as SentEvent['event'],
          ...(typeof firing.errorCode === 'number' ? { errorCode: firing.errorCode } : {}),
        })
      if (repeat) this.result.duplicateFirings++
    }
    firing.delivered?.resolve(ok)
    return ok
  }

  /**
   * Sends one request until it gets its acknowledgement (`expect`, or any 2xx) or the deadline passes;
   * the same request each time, as a player retries the same URL or click_id.
   */
  private async deliver(url: string, init: RequestInit, expect?: number): Promise<boolean> {
    const deadline = Date.now() + this.opts.giveUpAfterMs
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      let outcome: string
      try {
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) })
        await res.arrayBuffer()
        if (expect === undefined ? res.status >= 200 && res.status < 300 : res.status === expect) return true
        outcome = String(res.status)
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network-error'
      }
      this.result.refusals.set(outcome, (this.result.refusals.get(outcome) ?? 0) + 1)
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)))
    }
    return false
  }
}

const playerAgent = (who: string) => `Mozilla/5.0 (X11; Linux x86_64) FaultPlayer/${who}`
