import { createHash } from 'node:crypto'

/** What a viewer is known by in a click (version 1) or an event (version 2) message. */
export interface ViewerFields {
  viewer_id?: string | undefined
  ip: string
  user_agent: string
}

/**
 * Who a viewer is: the player's `viewer_id`, or else its IP and user agent, hashed (short, and no raw
 * IP). The click-worker computes it once and stores it with the click (clicks.viewer_id) or the event
 * (ad_events.viewer_id); every reader, Redis's unique viewers, Postgres's counts and reconciliation
 * alike, counts that stored id and never computes it again, so they cannot disagree on who is the same
 * viewer. Clicks and events share this one rule, so an impression's viewer is its click's viewer.
 * NOTE: the `v:` prefix keeps a player's own id from ever equalling a hash.
 */
export function viewerId(message: ViewerFields): string {
  if (message.viewer_id) return `v:${message.viewer_id}`
  return createHash('sha1')
    .update(`${message.ip}\u0000${message.user_agent}`)
    .digest('base64url')
    .slice(0, 16)
}
