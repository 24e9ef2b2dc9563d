import { createHash } from 'node:crypto'
import type { ClickMessage } from './click.js'

/**
 * Who a viewer is: the player's `viewer_id`, or else its IP and user agent, hashed (short, and no raw
 * IP). The click-worker computes it once and stores it with the click (clicks.viewer_id); every reader,
 * Redis's unique viewers, Postgres's counts and reconciliation alike, counts that stored id and never
 * computes it again, so they cannot disagree on who is the same viewer.
 * NOTE: the `v:` prefix keeps a player's own id from ever equalling a hash.
 */
export function viewerId(click: ClickMessage): string {
  if (click.viewer_id) return `v:${click.viewer_id}`
  return createHash('sha1').update(`${click.ip}\u0000${click.user_agent}`).digest('base64url').slice(0, 16)
}
