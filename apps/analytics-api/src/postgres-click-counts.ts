import { type InvalidReason, noInvalidClicks } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { PendingQuery, Row } from 'postgres'
import type { Counts, CountsSource, TopAd } from './counts-source.js'
import type { BucketCounts } from './time-buckets.js'

/**
 * Click counts from PostgreSQL, the source of truth: exact, slower than Redis. Lifetime and range
 * counts come from the clicks themselves, minutes and top ads from the worker's per-minute rollup.
 * Archived ads' clicks count like any other.
 */
export class PostgresClickCounts implements CountsSource {
  constructor(private readonly sql: Sql) {}

  forAd(adId: string): Promise<Counts> {
    return this.counts(adId, this.sql`true`)
  }

  /** Counts of one ad's clicks received in [from, to); only PostgreSQL keeps every click's time. */
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

  async minutes(adId: string, from: number, to: number): Promise<Map<number, BucketCounts>> {
    const rows = await this.sql<{ minute: Date; valid: number; invalid: number }[]>`
      select minute, valid, invalid from click_minutes
      where ad_id = ${adId} and minute >= ${new Date(from)} and minute < ${new Date(to)}`
    return new Map(rows.map((r) => [r.minute.getTime(), { valid: r.valid, invalid: r.invalid }]))
  }

  top(from: number, to: number, limit: number): Promise<TopAd[]> {
    return this.sql<TopAd[]>`
      select ad_id, sum(valid)::int as click_count from click_minutes
      where minute >= ${new Date(from)} and minute < ${new Date(to)} group by ad_id having sum(valid) > 0
      order by click_count desc, ad_id limit ${limit}`
  }
}
