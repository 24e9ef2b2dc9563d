import {
  type ErrorCounts,
  noPlaybackEvents,
  PLAYBACK_EVENTS,
  type PlaybackEventCounts,
} from '@adtrack/contracts'

/**
 * Valid events of one ad over some span (its life, a range, a minute, a bucket), as the worker counts
 * them: by event name (`impression`, `start` … `unmute`, `error`) and errors by VAST code (`unknown`
 * without one). Both stores answer this, so every reply derives its figures from it the same way.
 */
export interface EventTally {
  events: Record<string, number>
  errors: Record<string, number>
}

export const noEvents = (): EventTally => ({ events: {}, errors: {} })

/** Adds `tally` into `sum`, field by field. */
export function addEvents(sum: EventTally, tally: EventTally): void {
  for (const [event, n] of Object.entries(tally.events)) sum.events[event] = (sum.events[event] ?? 0) + n
  for (const [code, n] of Object.entries(tally.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + n
}

/**
 * `count / impressions`, or null without impressions: the one rule for ctr and completion_rate, over an
 * ad's life, a range, a bucket or a top-ads window alike. NOTE: not capped at 1: clicks without an
 * impression (POST /ads/click) and events whose impression was lost or judged a bot can exceed it, and
 * hiding that would hide the reason.
 */
export const perImpression = (count: number, impressions: number): number | null =>
  impressions > 0 ? count / impressions : null

export interface VideoFigures {
  impressions: number
  ctr: number | null
  completion_rate: number | null
  events: PlaybackEventCounts
  errors: ErrorCounts
}

/** The video figures of a reply (contracts' AdAnalytics, TimeseriesBucket) from the span's clicks and events. */
export function videoFigures(clicks: number, tally: EventTally): VideoFigures {
  const impressions = tally.events.impression ?? 0
  const events = noPlaybackEvents()
  for (const event of PLAYBACK_EVENTS) events[event] = tally.events[event] ?? 0
  return {
    impressions,
    ctr: perImpression(clicks, impressions),
    completion_rate: perImpression(events.complete, impressions),
    events,
    errors: { ...tally.errors },
  }
}
