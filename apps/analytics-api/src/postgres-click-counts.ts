import { type InvalidReason, noInvalidClicks } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { PendingQuery, Row } from 'postgres'
import type { Counts, CountsSource } from './counts-source.js'
import { type BucketCounts, emptyBucket } from './time-buckets.js'
import type { WindowCounts } from './top-ads.js'
import { type EventTally, noEvents } from './video-figures.js'

/**
 * Click and event counts from PostgreSQL, the source of truth: exact, slower than Redis. Lifetime and
 * range counts come from the clicks and events themselves, minutes and top ads from the worker's
 * per-minute rollups (click_minutes, event_minutes). Archived ads' clicks and events count like any other.
 */
export class PostgresClickCounts implements CountsSource {
  constructor(private readonly sql: Sql) {}

  async forAd(adId: string): Promise<Counts> {
    return (await this.forAds([adId]))[0] as Counts
  }

  /** Each ad's lifetime counts, in the order given, in two queries however many ads. */
  forAds(adIds: string[]): Promise<Counts[]> {
    return this.counts(adIds, () => this.sql`true`)
  }

  /** Counts of one ad's clicks and events received in [from, to); only PostgreSQL keeps each one's time. */
  async rangeCounts(adId: string, from: Date, to: Date): Promise<Counts> {
    const [counts] = await this.counts([adId], () => this.sql`received_at >= ${from} and received_at < ${to}`)
    return counts as Counts
  }

  private async counts(adIds: string[], when: () => PendingQuery<Row[]>): Promise<Counts[]> {
    const [clicks, events] = await Promise.all([
      this.clickCounts(adIds, when()),
      this.eventCounts(adIds, when()),
    ])
    return adIds.map((id) => ({ ...clicks(id), ...events(id) }))
  }

  private async clickCounts(adIds: string[], when: PendingQuery<Row[]>) {
    const rows = await this.sql<
      { ad_id: string; reason: InvalidReason | null; n: number; viewers: number; playback: string }[]
    >`
      -- NOTE: the viewer id the worker stored (contracts' viewerId), counted rather than computed again.
      select ad_id, invalid_reason as reason, count(*)::int as n,
             count(distinct viewer_id)::int as viewers,
             coalesce(sum(playback_time), 0)::text as playback
      from clicks where ad_id = any(${adIds}::text[]) and ${when} group by ad_id, invalid_reason`
    const byAd = Map.groupBy(rows, (r) => r.ad_id)
    return (adId: string) => {
      const counts = { clicks: 0, uniqueViewers: 0, invalid: noInvalidClicks(), playbackSum: 0 }
      for (const r of byAd.get(adId) ?? []) {
        if (r.reason === null) {
          counts.clicks = r.n
          counts.uniqueViewers = r.viewers
          counts.playbackSum = Number(r.playback)
        } else counts.invalid[r.reason] = r.n
      }
      return counts
    }
  }

  private async eventCounts(adIds: string[], when: PendingQuery<Row[]>) {
    const rows = await this.sql<
      {
        ad_id: string
        event: string
        error_code: number | null
        invalid: boolean
        n: number
        viewers: number
      }[]
    >`
      -- NOTE: the error code splits errors only, so that the valid impressions are one group and its
      -- distinct viewers are the unique impression viewers, counted like the clicks' above.
      select ad_id, event, case when event = 'error' then error_code end as error_code,
             invalid_reason is not null as invalid, count(*)::int as n,
             count(distinct viewer_id)::int as viewers
      from ad_events where ad_id = any(${adIds}::text[]) and ${when} group by 1, 2, 3, 4`
    const byAd = Map.groupBy(rows, (r) => r.ad_id)
    return (adId: string) => {
      const counts = { events: noEvents(), impressionViewers: 0, invalidEvents: 0 }
      for (const r of byAd.get(adId) ?? []) {
        if (r.invalid) {
          counts.invalidEvents += r.n
          continue
        }
        addEvent(counts.events, r.event, r.error_code ?? 0, r.n)
        if (r.event === 'impression') counts.impressionViewers = r.viewers
      }
      return counts
    }
  }

  async minutes(adId: string, from: number, to: number): Promise<Map<number, BucketCounts>> {
    const [clicks, events] = await Promise.all([
      this.sql<{ minute: Date; valid: number; invalid: number }[]>`
        select minute, valid, invalid from click_minutes
        where ad_id = ${adId} and minute >= ${new Date(from)} and minute < ${new Date(to)}`,
      this.sql<{ minute: Date; event: string; error_code: number; valid: number }[]>`
        select minute, event, error_code, valid from event_minutes
        where ad_id = ${adId} and minute >= ${new Date(from)} and minute < ${new Date(to)} and valid > 0`,
    ])
    const out = new Map<number, BucketCounts>()
    const bucket = (minute: Date) => {
      const b = out.get(minute.getTime()) ?? emptyBucket()
      out.set(minute.getTime(), b)
      return b
    }
    for (const r of clicks) Object.assign(bucket(r.minute), { valid: r.valid, invalid: r.invalid })
    for (const r of events) addEvent(bucket(r.minute), r.event, r.error_code, r.valid)
    return out
  }

  window(from: number, to: number): Promise<WindowCounts[]> {
    return this.sql<WindowCounts[]>`
      select ad_id, sum(clicks)::int as click_count, sum(impressions)::int as impressions from (
        select ad_id, valid as clicks, 0 as impressions from click_minutes
        where minute >= ${new Date(from)} and minute < ${new Date(to)} and valid > 0
        union all
        select ad_id, 0, valid from event_minutes
        where event = 'impression' and minute >= ${new Date(from)} and minute < ${new Date(to)} and valid > 0
      ) as w group by ad_id`
  }
}

/**
 * Adds `n` valid events to a tally; an error also by its code, where 0 (event_minutes) or no code
 * (ad_events) is `unknown`, as Redis's errors hash names it.
 */
function addEvent(tally: EventTally, event: string, errorCode: number, n: number): void {
  tally.events[event] = (tally.events[event] ?? 0) + n
  if (event !== 'error') return
  const code = errorCode ? String(errorCode) : 'unknown'
  tally.errors[code] = (tally.errors[code] ?? 0) + n
}
