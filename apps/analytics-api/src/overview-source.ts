import { OVERVIEW_TOP_WINDOW_MINUTES, type Overview, TODAY_MAX_HOURS } from '@adtrack/contracts'
import type { FastifyBaseLogger } from 'fastify'
import type { CountsSources } from './counts-source.js'
import {
  buildOverview,
  CHART_MINUTES,
  MINUTE_MS,
  minuteStart,
  overviewEtag,
  type TrafficSnapshot,
} from './overview.js'
import type { MinuteTraffic, SystemTraffic } from './system-traffic.js'
import type { WindowCounts } from './top-ads.js'

/** How long one read of the stores answers every overview: N dashboards polling cost one read per second. */
export const SNAPSHOT_TTL_MS = 1000
/**
 * How long the minutes older than the chart's hour are kept between reads. They change only while the
 * worker catches up on a backlog (a minute is a minute of receive time), so a 48-hour sum is read again
 * once a minute rather than every second; the last hour and more is read every time.
 */
export const HISTORY_TTL_MS = 60_000

interface History {
  at: number
  /** Where the minutes kept end (epoch ms, excluded): every later minute is read with each snapshot. */
  to: number
  minutes: Map<number, MinuteTraffic>
}

export interface Snapshot extends TrafficSnapshot {
  /** Set when the top ads came from PostgreSQL because Redis could not answer. */
  redisDown: boolean
}

/**
 * The overview's one shared read of the stores, and the overviews built from it. A read is shared by every
 * request within SNAPSHOT_TTL_MS, in flight or done (failed too: a store that is down is asked once per
 * interval, not once per dashboard), so the cost does not grow with the dashboards open.
 */
export class OverviewSource {
  private snapshot: { at: number; read: Promise<Snapshot> } | undefined
  private history: History | undefined
  /** The overviews built from the current snapshot, by today's first minute, with their ETags. */
  private built = new WeakMap<Snapshot, Map<number, { overview: Overview; etag: string }>>()

  constructor(
    private readonly traffic: SystemTraffic,
    private readonly counts: CountsSources,
    private readonly now: () => number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** The current snapshot: the shared one if younger than SNAPSHOT_TTL_MS, else a new read. */
  current(): Promise<Snapshot> {
    const now = this.now()
    if (this.snapshot && now - this.snapshot.at < SNAPSHOT_TTL_MS && now >= this.snapshot.at) {
      return this.snapshot.read
    }
    const read = this.read(now)
    // A failed read is shared too, but never reported as unhandled when no one else asks for it.
    read.catch(() => {})
    this.snapshot = { at: now, read }
    return read
  }

  /** The overview of `snapshot` for a today starting in the minute `todayFrom`, built once per snapshot. */
  overview(snapshot: Snapshot, todayFrom: number): { overview: Overview; etag: string } {
    let byToday = this.built.get(snapshot)
    if (!byToday) {
      byToday = new Map()
      this.built.set(snapshot, byToday)
    }
    let found = byToday.get(todayFrom)
    if (!found) {
      const overview = buildOverview(snapshot, todayFrom)
      found = { overview, etag: overviewEtag(overview) }
      byToday.set(todayFrom, found)
    }
    return found
  }

  private async read(now: number): Promise<Snapshot> {
    const end = minuteStart(now) + MINUTE_MS
    const kept = this.history
    const [minutes, window] = await Promise.all([
      kept && now - kept.at < HISTORY_TTL_MS && now >= kept.at
        ? this.withRecent(kept, end)
        : this.readAll(now, end),
      this.topWindow(end),
    ])
    return { at: now, minutes, window: window.ads, redisDown: window.redisDown }
  }

  /** The kept history and every minute after it, read now: no minute falls between the two. */
  private async withRecent(history: History, end: number): Promise<Map<number, MinuteTraffic>> {
    const minutes = new Map(history.minutes)
    for (const [start, m] of await this.traffic.minutes(history.to, end)) minutes.set(start, m)
    return minutes
  }

  /** All 48 hours up to `end` in one read, kept as the history but for the chart's hour and a margin. */
  private async readAll(now: number, end: number): Promise<Map<number, MinuteTraffic>> {
    const from = minuteStart(now - TODAY_MAX_HOURS * 3_600_000)
    const minutes = await this.traffic.minutes(from, end)
    const to = end - (CHART_MINUTES + 1) * MINUTE_MS
    const history = new Map([...minutes].filter(([start]) => start < to))
    this.history = { at: now, to, minutes: history }
    return minutes
  }

  /** Valid clicks and impressions per ad over the top ads' window, from Redis, else PostgreSQL's rollups. */
  private async topWindow(end: number): Promise<{ ads: WindowCounts[]; redisDown: boolean }> {
    const from = end - OVERVIEW_TOP_WINDOW_MINUTES * MINUTE_MS
    if (this.counts.redis.available) {
      try {
        return { ads: await this.counts.redis.window(from, end), redisDown: false }
      } catch (err) {
        this.log.warn({ err }, 'redis unavailable; reading the top ads from postgres')
      }
    }
    return { ads: await this.counts.postgres.window(from, end), redisDown: true }
  }
}
