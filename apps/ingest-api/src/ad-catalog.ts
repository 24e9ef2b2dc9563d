import type { Sql } from '@adtrack/db'
import type { Logger } from 'pino'

/**
 * The ids of ads that accept clicks, held in memory and reloaded on a timer, so that a click never waits
 * on Postgres. A reload that fails keeps the last good copy: clicks keep flowing while Postgres is down.
 */
export class AdCatalog {
  private active = new Set<string>()
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
    // Archived ads (DELETE /ads/:id on analytics-api) take no more clicks.
    const rows = await this.sql<{ id: string }[]>`
      select id from ads where status = 'active' and archived_at is null`
    this.active = new Set(rows.map((r) => r.id))
    this.loadedAt = Date.now()
  }

  accepts(adId: string): boolean {
    return this.active.has(adId)
  }

  get size(): number {
    return this.active.size
  }

  /** Milliseconds since the last successful load (Infinity before the first). */
  get age(): number {
    return this.loadedAt ? Date.now() - this.loadedAt : Number.POSITIVE_INFINITY
  }
}
