import { type Ad, type InvalidReason, noInvalidClicks } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { PendingQuery, Row } from 'postgres'
import type { Counts } from './click-counts.js'
import type { BucketCounts } from './time-buckets.js'

/**
 * Read access to ads, and to click counts when Redis cannot answer, in Postgres. Archived ads are not
 * listed or found; their clicks still count (exists() and the counts ignore archiving).
 */
export class AdStore {
  /** Ids known to exist. An ad is never deleted (archived at most) and its id never reused, so a yes is
   * final and is not asked again; a no is always asked, since the ad may be created at any moment. */
  private readonly known = new Set<string>()

  constructor(
    private readonly sql: Sql,
    private readonly maxKnown = 100_000,
  ) {}

  list(limit: number, offset: number): Promise<Ad[]> {
    return this.sql<Ad[]>`
      select id, title, image_url, target_url, status, created_at
      from ads where archived_at is null
      order by created_at, id limit ${limit} offset ${offset}`
  }

  async get(id: string): Promise<Ad | undefined> {
    const [ad] = await this.sql<Ad[]>`
      select id, title, image_url, target_url, status, created_at
      from ads where id = ${id} and archived_at is null`
    return ad
  }

  /** Whether an ad (archived or not) has this id. After the first yes, answered from memory. */
  async exists(id: string): Promise<boolean> {
    if (this.known.has(id)) return true
    const [row] = await this.sql`select 1 from ads where id = ${id}`
    if (row === undefined) return false
    if (this.known.size >= this.maxKnown) this.known.clear()
    this.known.add(id)
    return true
  }

  /** The exact counts, from the source of truth; slower than Redis, used when Redis is down. */
  clickCounts(adId: string): Promise<Counts> {
    return this.counts(adId, this.sql`true`)
  }

  /** Counts of one ad's clicks received in [from, to), from the clicks themselves (exact). */
  rangeCounts(adId: string, from: Date, to: Date): Promise<Counts> {
    return this.counts(adId, this.sql`received_at >= ${from} and received_at < ${to}`)
  }

  private async counts(adId: string, when: PendingQuery<Row[]>): Promise<Counts> {
    const rows = await this.sql<
      { reason: InvalidReason | null; n: number; viewers: number; playback: string }[]
    >`
      -- NOTE: the viewer id the worker stored (contracts' viewerId), counted rather than computed again.
      select invalid_reason as reason, count(*)::int as n,
             count(distinct viewer_id)::int as viewers,
             coalesce(sum(playback_time), 0)::text as playback
      from clicks where ad_id = ${adId} and ${when} group by invalid_reason`
    const counts: Counts = { clicks: 0, uniqueViewers: 0, invalid: noInvalidClicks(), playbackSum: 0 }
    for (const r of rows) {
      if (r.reason === null) {
        counts.clicks = r.n
        counts.uniqueViewers = r.viewers
        counts.playbackSum = Number(r.playback)
      } else counts.invalid[r.reason] = r.n
    }
    return counts
  }

  /** Per-minute counts of one ad in [from, to) from the worker's rollup. */
  async minutes(adId: string, from: Date, to: Date): Promise<Map<number, BucketCounts>> {
    const rows = await this.sql<{ minute: Date; valid: number; invalid: number }[]>`
      select minute, valid, invalid from click_minutes
      where ad_id = ${adId} and minute >= ${from} and minute < ${to}`
    return new Map(rows.map((r) => [r.minute.getTime(), { valid: r.valid, invalid: r.invalid }]))
  }

  /** Valid clicks per ad since `from`, highest first, from the worker's rollup. */
  top(from: Date, limit: number): Promise<{ ad_id: string; click_count: number }[]> {
    return this.sql<{ ad_id: string; click_count: number }[]>`
      select ad_id, sum(valid)::int as click_count from click_minutes
      where minute >= ${from} group by ad_id having sum(valid) > 0
      order by click_count desc, ad_id limit ${limit}`
  }
}
