import { createHash } from 'node:crypto'
import {
  INVALID_REASONS,
  noInvalidClicks,
  OVERVIEW_CTR_MIN_IMPRESSIONS,
  OVERVIEW_TOP_LIMIT,
  type Overview,
  type TrafficTotals,
} from '@adtrack/contracts'
import { type MinuteTraffic, noTraffic } from './system-traffic.js'
import { rankTopAds, type WindowCounts } from './top-ads.js'
import { perImpression } from './video-figures.js'

export const MINUTE_MS = 60_000
/** The chart's minutes: the last 60 whole ones and the current one. */
export const CHART_MINUTES = 61

/** What every overview is built from, whatever its `today_from`: one read of the stores (overview-source.ts). */
export interface TrafficSnapshot {
  /** When it was read (epoch ms). */
  at: number
  /** The whole system's traffic per minute start, over at least the last 48 hours; quiet minutes absent. */
  minutes: Map<number, MinuteTraffic>
  /** Valid clicks and impressions per ad over the top ads' window. */
  window: WindowCounts[]
}

/** The overview for a `today` that starts in the minute `todayFrom` (epoch ms, a minute start). */
export function buildOverview(snapshot: TrafficSnapshot, todayFrom: number): Overview {
  const current = minuteStart(snapshot.at)
  const end = current + MINUTE_MS
  const hourFrom = current - (CHART_MINUTES - 1) * MINUTE_MS
  const minutes: Overview['minutes'] = []
  for (let t = hourFrom; t < end; t += MINUTE_MS) {
    const m = snapshot.minutes.get(t)
    minutes.push({ start: iso(t), impressions: m?.impressions ?? 0, click_count: m?.clicks ?? 0 })
  }
  const top = (metric: 'clicks' | 'impressions' | 'ctr') =>
    rankTopAds(snapshot.window, metric, OVERVIEW_CTR_MIN_IMPRESSIONS, OVERVIEW_TOP_LIMIT)
  return {
    generated_at: iso(snapshot.at),
    today: trafficTotals(snapshot.minutes, todayFrom, end),
    last_hour: trafficTotals(snapshot.minutes, hourFrom, end),
    minutes,
    top: { clicks: top('clicks'), impressions: top('impressions'), ctr: top('ctr') },
  }
}

/** The system's totals over the minutes in [from, to) (epoch ms, minute starts). */
export function trafficTotals(minutes: Map<number, MinuteTraffic>, from: number, to: number): TrafficTotals {
  const sum = noTraffic()
  for (const [start, m] of minutes) {
    if (start < from || start >= to) continue
    sum.clicks += m.clicks
    sum.impressions += m.impressions
    sum.completes += m.completes
    sum.events += m.events
    sum.invalidEvents += m.invalidEvents
    for (const reason of INVALID_REASONS) sum.invalidClicks[reason] += m.invalidClicks[reason]
  }
  const invalidClicks = INVALID_REASONS.reduce((n, reason) => n + sum.invalidClicks[reason], 0)
  const invalid = invalidClicks + sum.invalidEvents
  const all = sum.clicks + sum.events + invalid
  return {
    from: iso(from),
    to: iso(to),
    impressions: sum.impressions,
    click_count: sum.clicks,
    completes: sum.completes,
    ctr: perImpression(sum.clicks, sum.impressions),
    completion_rate: perImpression(sum.completes, sum.impressions),
    invalid_clicks: { ...noInvalidClicks(), ...sum.invalidClicks },
    invalid_events: sum.invalidEvents,
    invalid_share: all ? invalid / all : null,
  }
}

/**
 * A weak ETag of the overview's content: everything but `generated_at`, which changes with every read
 * while the figures may not. Weak because two replies with the same tag may differ in that one field.
 */
export function overviewEtag(overview: Overview): string {
  const { generated_at: _, ...content } = overview
  return `W/"${createHash('sha1').update(JSON.stringify(content)).digest('base64url')}"`
}

/**
 * Whether an If-None-Match header names `etag`, by the weak comparison (RFC 9110 §13.1.2): `*`, or any
 * listed tag equal once `W/` is ignored.
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '')
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}

export const minuteStart = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS
const iso = (ms: number) => new Date(ms).toISOString()
