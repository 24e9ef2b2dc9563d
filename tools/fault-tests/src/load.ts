import { randomUUID } from 'node:crypto'

export interface LoadResult {
  /** click_id -> ad_id of every click that got a 2xx. */
  acknowledged: Map<string, string>
  /** Every click_id that was sent at least once (acknowledged or not). */
  attempted: Set<string>
  /** Non-2xx replies and network errors seen on the way (each retried with the same click_id). */
  refusals: Map<string, number>
}

/**
 * A steady stream of clicks like players send, with their retry behaviour: a click that does not get a
 * 2xx is sent again with the same click_id after a backoff, until it does or the deadline passes.
 * Bounded in rate, count and time; it stops by itself.
 */
export class ClickLoad {
  readonly result: LoadResult = { acknowledged: new Map(), attempted: new Set(), refusals: new Map() }
  private stopping = false
  private running: Promise<void> | undefined

  constructor(
    private readonly url: string,
    private readonly opts: {
      ratePerSecond: number
      maxClicks: number
      giveUpAfterMs: number
      ads?: string[]
    },
  ) {}

  start(): this {
    this.running = this.run()
    return this
  }

  /** Stops sending new clicks and waits for those in flight to be acknowledged or given up. */
  async stop(): Promise<LoadResult> {
    this.stopping = true
    await this.running
    return this.result
  }

  get acknowledgedCount(): number {
    return this.result.acknowledged.size
  }

  private async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>()
    const interval = 1000 / this.opts.ratePerSecond
    const ads = this.opts.ads ?? ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']
    let sent = 0
    const started = Date.now()
    while (!this.stopping && sent < this.opts.maxClicks) {
      const clickId = randomUUID()
      const adId = ads[sent % ads.length] as string
      const p = this.deliver(clickId, adId, sent).finally(() => inFlight.delete(p))
      inFlight.add(p)
      sent++
      const due = started + sent * interval
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())))
    }
    await Promise.all(inFlight)
  }

  private async deliver(clickId: string, adId: string, n: number): Promise<void> {
    const deadline = Date.now() + this.opts.giveUpAfterMs
    const body = JSON.stringify({ ad_id: adId, playback_time: n % 3600, click_id: clickId })
    this.result.attempted.add(clickId)
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      let outcome: string
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          // One browser-like viewer per click, so the invalid-traffic rules leave the load alone.
          headers: {
            'content-type': 'application/json',
            'user-agent': `Mozilla/5.0 (X11; Linux x86_64) FaultPlayer/${n}`,
          },
          body,
          signal: AbortSignal.timeout(15_000),
        })
        await res.arrayBuffer()
        if (res.status >= 200 && res.status < 300) {
          this.result.acknowledged.set(clickId, adId)
          return
        }
        outcome = String(res.status)
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network-error'
      }
      this.result.refusals.set(outcome, (this.result.refusals.get(outcome) ?? 0) + 1)
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)))
    }
  }
}
