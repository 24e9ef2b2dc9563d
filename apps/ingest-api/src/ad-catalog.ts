import { HTTP_URL_PATTERN } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Logger } from 'pino'

const httpUrl = new RegExp(HTTP_URL_PATTERN)

/**
 * The ads that accept clicks, and where each ad's click-through goes, held in memory and reloaded on a
 * timer, so that neither a click nor a click-through ever waits on Postgres. A reload that fails keeps the
 * last good copy: clicks keep flowing while Postgres is down.
 */
export class AdCatalog {
  private active = new Set<string>()
  /** target_url of every ad that is not archived, paused ones included. */
  private targets = new Map<string, string>()
  private unusable = new Set<string>()
  private loadedAt = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly sql: Sql,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {}

  /** Loads once (throws if that fails) and then keeps reloading every refreshMs. */
  async start(): Promise<void> {
    await this.reload()
    this.timer = setInterval(() => {
      this.reload().catch((err) => this.logger.warn({ err }, 'ad catalogue reload failed; keeping last copy'))
    }, this.refreshMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  async reload(): Promise<void> {
    // Archived ads (DELETE /ads/:id on analytics-api) take no more clicks, and are gone for the
    // click-through too. A paused ad still redirects: its tag was served while it ran, the viewer
    // clicked in good faith, and the worker records that click as inactive_ad.
    const rows = await this.sql<{ id: string; target_url: string; status: string }[]>`
      select id, target_url, status from ads where archived_at is null`
    this.active = new Set(rows.filter((r) => r.status === 'active').map((r) => r.id))
    const targets = new Map<string, string>()
    const unusable = new Set<string>()
    for (const row of rows) {
      const target = redirectTarget(row.target_url)
      if (target) targets.set(row.id, target)
      else unusable.add(row.id)
    }
    // Said once per ad, not on every reload.
    for (const adId of unusable) {
      if (!this.unusable.has(adId))
        this.logger.warn({ adId }, 'ad has no usable http(s) target_url; its click-through answers 404')
    }
    this.targets = targets
    this.unusable = unusable
    this.loadedAt = Date.now()
  }

  accepts(adId: string): boolean {
    return this.active.has(adId)
  }

  /**
   * Where a click-through on the ad goes: the target_url stored with it (the admin API validated it as
   * http or https), never anything a request says; undefined for an unknown or archived ad.
   */
  targetUrl(adId: string): string | undefined {
    return this.targets.get(adId)
  }

  get size(): number {
    return this.active.size
  }

  /** Milliseconds since the last successful load (Infinity before the first). */
  get age(): number {
    return this.loadedAt ? Date.now() - this.loadedAt : Number.POSITIVE_INFINITY
  }
}

/**
 * A stored target_url as a Location header can carry it, or undefined when it is not an absolute http(s)
 * URL (the admin API refuses those, but a row written another way is not trusted to have been checked).
 * NOTE: `href` is the URL in ASCII (punycode host, percent-encoded path): Node refuses a header holding
 * characters beyond Latin-1, which the admin API allows in a URL.
 */
export function redirectTarget(stored: string): string | undefined {
  if (!httpUrl.test(stored)) return undefined
  try {
    const url = new URL(stored)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}
