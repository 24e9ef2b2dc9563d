import {
  type ClickMessage,
  type EventMessage,
  impressionClickId,
  MAX_PLAYBACK_SECONDS,
} from '@adtrack/contracts'

/**
 * The click that an impression's `click` event is: stored under the impression's click id, so that a
 * click-through and a click-tracking pixel of one impression, or one fired twice, are one click, and
 * judged by the same rules as POST /ads/click. The playback time is where the ad was when the viewer
 * clicked ([ADPLAYHEAD]), whole seconds, 0 when the player did not say.
 * NOTE: the click id `imp:<id>` does not match the ClickId pattern on purpose (no client can send it);
 * the result is never validated against ClickMessage again.
 */
export function clickOfEvent(event: EventMessage): ClickMessage {
  const played = Math.round(event.ad_playhead ?? 0)
  return {
    v: 1,
    click_id: impressionClickId(event.impression_id),
    ad_id: event.ad_id,
    playback_time: Math.min(MAX_PLAYBACK_SECONDS, Math.max(0, Number.isFinite(played) ? played : 0)),
    received_at: event.received_at,
    ip: event.ip,
    user_agent: event.user_agent,
    ...(event.viewer_id === undefined ? {} : { viewer_id: event.viewer_id }),
  }
}

/** Epoch minute of a receive time: the time-series bucket a click or an event counts in. */
export const epochMinute = (receivedAt: string): number => Math.floor(Date.parse(receivedAt) / 60_000)

/**
 * An event's VAST error code as stored and counted: an `error` event's code, or null (counted as
 * `unknown`). A code on any other event means nothing and is dropped.
 */
export const errorCodeOf = (event: EventMessage): number | null =>
  event.type === 'error' ? (event.error_code ?? null) : null
