import {
  type AdEvent,
  EVENT_MESSAGE_VERSION,
  type EventMessage,
  MAX_PLAYBACK_SECONDS,
  TRACKING_QUERY,
} from '@adtrack/contracts'
import {
  TOKEN_REFUSALS,
  type TokenRefusal,
  type TrackingKeys,
  verifyImpression,
} from '@adtrack/service-runtime/impression-token'
import { readAdPlayhead, readErrorCode } from '@adtrack/service-runtime/vast-macros'
import type { ClickReceipt } from './click-message.js'

/**
 * Clock difference forgiven between the analytics-api pod that minted a token and the ingest-api pod
 * that reads it: a token "served" a little after this pod's now is still good. NTP keeps pods within
 * milliseconds; this is room for a pod whose clock has drifted, not a tolerance anyone should rely on.
 */
export const TOKEN_MAX_SKEW_MS = 30_000

/**
 * Why a token was refused (tracking_token_refusals_total's reason label): verifyImpression's reasons,
 * and `missing` for a request with no token at all. Kept apart from `malformed` because it means
 * something else: a tag that lost its query, or a URL typed by hand, rather than a damaged token.
 */
export type TokenRefusalLabel = TokenRefusal | 'missing'
export const TOKEN_REFUSAL_LABELS: readonly TokenRefusalLabel[] = ['missing', ...TOKEN_REFUSALS]

/** A token that verified: the impression it names and when it was served. */
export interface VerifiedImpression {
  adId: string
  impressionId: string
  servedAt: number
}

export type TokenCheck =
  | { ok: true; impression: VerifiedImpression }
  | { ok: false; reason: TokenRefusalLabel }

export interface TokenRules {
  keys: TrackingKeys
  /** TRACKING_TOKEN_MAX_AGE in milliseconds. */
  maxAgeMs: number
}

/**
 * The verdict on a request's token. `adId` is the ad of the URL that carried it (pixel, click-through):
 * a genuine token of another ad is refused as wrong_ad. The SDK route has no ad in its path and leaves it
 * out: the token's own ad is the event's. Never throws, whatever `token` is.
 */
export function checkToken(
  rules: TokenRules,
  token: unknown,
  { adId, now }: { adId?: string; now: number },
): TokenCheck {
  if (token === undefined || token === '') return { ok: false, reason: 'missing' }
  const verdict = verifyImpression(rules.keys, token, {
    adId,
    now,
    maxAgeMs: rules.maxAgeMs,
    maxSkewMs: TOKEN_MAX_SKEW_MS,
  })
  if (!verdict.ok) return { ok: false, reason: verdict.reason }
  return {
    ok: true,
    impression: { adId: verdict.adId, impressionId: verdict.impressionId, servedAt: verdict.servedAt },
  }
}

/** What a pixel's or a click-through's query says, its macros read (contracts' TRACKING_QUERY names). */
export interface TrackingQueryValues {
  /** The token as sent (any value: checkToken judges it). */
  token: unknown
  errorCode?: number
  adPlayhead?: number
}

/**
 * Reads a tracking URL's query. A macro left literal (`[ERRORCODE]`, `%5BERRORCODE%5D`) or a value that is
 * not one reads as absent, never as an error: the pixel still loads and the event still counts, without
 * that detail. [CACHEBUSTING] and [CONTENTPLAYHEAD] are not read: neither says anything the event keeps.
 */
export function readTrackingQuery(query: Record<string, unknown>): TrackingQueryValues {
  return {
    token: query[TRACKING_QUERY.token],
    errorCode: readErrorCode(query[TRACKING_QUERY.errorCode]),
    adPlayhead: readAdPlayhead(query[TRACKING_QUERY.adPlayhead]),
  }
}

/** The event's details, however the player sent them (a pixel's query or an SDK item). */
export interface EventDetails {
  errorCode?: number
  adPlayhead?: number
}

/**
 * The Kafka message (version 2) of an event of a verified impression. The error code is kept for an
 * `error` event only; a playhead beyond the contract's bound (an ad is not hours long) is left out rather
 * than refused, as a malformed macro is.
 */
export function eventMessage(
  type: AdEvent,
  impression: VerifiedImpression,
  receipt: ClickReceipt,
  details: EventDetails = {},
): EventMessage {
  const { errorCode, adPlayhead } = details
  return {
    v: EVENT_MESSAGE_VERSION,
    type,
    impression_id: impression.impressionId,
    ad_id: impression.adId,
    served_at: new Date(impression.servedAt).toISOString(),
    received_at: receipt.received_at,
    ip: receipt.ip,
    user_agent: receipt.user_agent,
    ...(type === 'error' && errorCode !== undefined ? { error_code: errorCode } : {}),
    ...(adPlayhead !== undefined && adPlayhead >= 0 && adPlayhead <= MAX_PLAYBACK_SECONDS
      ? { ad_playhead: adPlayhead }
      : {}),
  }
}
