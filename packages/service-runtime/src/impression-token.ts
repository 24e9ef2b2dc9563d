import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto'
import { ConfigError } from './config.js'

// Signed impression tokens: analytics-api mints one per VAST serve and puts it in every tracking URL of
// the tag; ingest-api verifies it on each pixel before counting. Format (every part URL-safe):
//
//   v1.<key id>.<impression id>.<served at, epoch ms>.<mac>.<ad id>
//
// The ad id goes last because it may itself contain dots (AdId allows them); the five parts before it
// cannot, so splitting on the first five dots is unambiguous. The mac is HMAC-SHA256 truncated to 128
// bits (RFC 2104 §5 allows truncation to half the output; 2^-128 forgery odds), base64url: 22 characters.

const VERSION = 'v1'
const MAC_BYTES = 16
/** Longest token we look at: the fixed parts (~85 characters) plus a 64-character ad id, with room. */
export const MAX_TOKEN_LENGTH = 256

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/
const IMPRESSION_ID = /^[A-Za-z0-9_-]{22}$/
// Canonical decimal only: "0123" and "123" must not both verify as the same token.
const SERVED_AT = /^(0|[1-9][0-9]{0,14})$/
const MAC = /^[A-Za-z0-9_-]{22}$/
const AD_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

export interface TrackingKey {
  id: string
  /**
   * NOTE: a KeyObject, made once when the keys are read, not a Buffer: createHmac given a Buffer turns it
   * into a key anew on every call, which cost more than the HMAC itself (about 11 of 15 us per token,
   * a sixth of the pixel route's CPU under load; see docs/performance.md). It also prints without the secret.
   */
  secret: KeyObject
}
/** The configured keys: the first signs, all verify. */
export type TrackingKeys = readonly [TrackingKey, ...TrackingKey[]]

export interface Impression {
  adId: string
  impressionId: string
  /** Epoch milliseconds. */
  servedAt: number
}

/** Why a token was refused; a closed set, so it can be a metric label. */
export type TokenRefusal =
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'from_the_future'
  | 'wrong_ad'
export const TOKEN_REFUSALS: readonly TokenRefusal[] = [
  'malformed',
  'unknown_key',
  'bad_signature',
  'expired',
  'from_the_future',
  'wrong_ad',
]

export type TokenVerdict =
  | { ok: true; adId: string; impressionId: string; servedAt: number }
  | { ok: false; reason: TokenRefusal }

/** A new impression of an ad served at `now`, with its token. */
export function mintImpression(
  keys: TrackingKeys,
  adId: string,
  now: number,
): { impressionId: string; servedAt: number; token: string } {
  const impression = { adId, impressionId: randomBytes(16).toString('base64url'), servedAt: Math.floor(now) }
  return {
    impressionId: impression.impressionId,
    servedAt: impression.servedAt,
    token: signImpression(keys, impression),
  }
}

export function signImpression(keys: TrackingKeys, impression: Impression): string {
  const { adId, impressionId, servedAt } = impression
  // Refuse to sign what verify would call malformed: a token that can never be accepted is a bug here.
  if (!AD_ID.test(adId) || !IMPRESSION_ID.test(impressionId) || !SERVED_AT.test(String(servedAt))) {
    throw new TypeError('signImpression: ad id, impression id or serve time out of range')
  }
  const key = keys[0]
  const mac = macOf(key, adId, impressionId, String(servedAt)).toString('base64url')
  return [VERSION, key.id, impressionId, String(servedAt), mac, adId].join('.')
}

export interface VerifyOptions {
  /** The ad whose URL carried the token; a token of another ad is refused as wrong_ad. */
  adId?: string
  now: number
  /** Events later than this after the serve are refused (expired); exactly maxAgeMs is still accepted. */
  maxAgeMs: number
  /** Clock difference between the pods that mint and verify that is forgiven. */
  maxSkewMs: number
}

/** Never throws: any string (or anything else) a client sends gets a verdict. */
export function verifyImpression(keys: TrackingKeys, token: unknown, options: VerifyOptions): TokenVerdict {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return refuse('malformed')
  const parts = splitToken(token)
  if (!parts) return refuse('malformed')
  const [version, keyId, impressionId, servedAtText, macText, adId] = parts
  if (
    version !== VERSION ||
    !KEY_ID.test(keyId) ||
    !IMPRESSION_ID.test(impressionId) ||
    !SERVED_AT.test(servedAtText) ||
    !MAC.test(macText) ||
    !AD_ID.test(adId)
  ) {
    return refuse('malformed')
  }
  const key = keys.find((k) => k.id === keyId)
  if (!key) return refuse('unknown_key')
  const given = Buffer.from(macText, 'base64url')
  // 22 base64url characters carry 132 bits; a token differing only in the spare 4 bits decodes the same,
  // so require the canonical spelling to keep one token per impression.
  if (given.length !== MAC_BYTES || given.toString('base64url') !== macText) return refuse('malformed')
  if (!timingSafeEqual(given, macOf(key, adId, impressionId, servedAtText))) return refuse('bad_signature')
  if (options.adId !== undefined && options.adId !== adId) return refuse('wrong_ad')
  const servedAt = Number(servedAtText)
  if (servedAt > options.now + options.maxSkewMs) return refuse('from_the_future')
  if (options.now - servedAt > options.maxAgeMs) return refuse('expired')
  return { ok: true, adId, impressionId, servedAt }
}

function refuse(reason: TokenRefusal): TokenVerdict {
  return { ok: false, reason }
}

/** The first five dot-separated parts and the rest (the ad id, which may hold dots), or undefined. */
function splitToken(token: string): [string, string, string, string, string, string] | undefined {
  const parts: string[] = []
  let start = 0
  for (let i = 0; i < 5; i++) {
    const dot = token.indexOf('.', start)
    if (dot < 0) return undefined
    parts.push(token.slice(start, dot))
    start = dot + 1
  }
  parts.push(token.slice(start))
  return parts as [string, string, string, string, string, string]
}

/**
 * The MAC's input is a domain tag and then each field as <byte length>:<bytes>, the netstring idea: a
 * reader knows where each field ends from its length, never from a separator the field could contain, so
 * no two different (key id, ad id, impression id, serve time) tuples encode to the same bytes. The key
 * id is signed too, so a token cannot be relabelled to another key holding the same secret.
 */
function macOf(key: TrackingKey, adId: string, impressionId: string, servedAt: string): Buffer {
  // One update of the whole input rather than one per piece: the same bytes, fewer calls into C++.
  let input = 'adtrack-impression-v1\n'
  for (const field of [key.id, adId, impressionId, servedAt]) {
    input += `${Buffer.byteLength(field, 'utf8')}:${field},`
  }
  return createHmac('sha256', key.secret).update(input, 'utf8').digest().subarray(0, MAC_BYTES)
}

const MIN_SECRET_LENGTH = 32
const VARIABLE = 'TRACKING_TOKEN_KEYS'
/**
 * Signs when TRACKING_TOKEN_KEYS is empty outside production. It is in this public repository, so
 * anyone can forge tokens with it: loadTrackingKeys refuses it when NODE_ENV=production.
 */
export const DEVELOPMENT_TRACKING_KEYS = 'dev:development-only-tracking-key-do-not-deploy'

/**
 * Parses TRACKING_TOKEN_KEYS (`id:secret,id:secret`, the first signing), throwing a ConfigError naming
 * the variable on anything weak or ambiguous. `development` is true when the public development key is
 * in use, which the caller should say loudly.
 */
export function loadTrackingKeys(config: { TRACKING_TOKEN_KEYS: string; NODE_ENV: string }): {
  keys: TrackingKeys
  development: boolean
} {
  const production = config.NODE_ENV === 'production'
  const text = config.TRACKING_TOKEN_KEYS.trim()
  if (text === '' && production) {
    throw new ConfigError([
      `${VARIABLE} is required when NODE_ENV=production (id:secret pairs, each secret ${MIN_SECRET_LENGTH}+ characters; e.g. k1:$(openssl rand -base64 32))`,
    ])
  }
  const keys = parseTrackingKeys(text === '' ? DEVELOPMENT_TRACKING_KEYS : text)
  const development = keys.some((k) => k.secret.equals(developmentSecret))
  if (development && production) {
    throw new ConfigError([
      `${VARIABLE} holds the public development key; NODE_ENV=production needs a secret one`,
    ])
  }
  return { keys, development }
}

const developmentSecret = createSecretKey(
  Buffer.from(DEVELOPMENT_TRACKING_KEYS.slice(DEVELOPMENT_TRACKING_KEYS.indexOf(':') + 1), 'utf8'),
)

export function parseTrackingKeys(text: string): TrackingKeys {
  const problems: string[] = []
  const keys: TrackingKey[] = []
  const entries = text.split(',').map((entry) => entry.trim())
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':')
    const id = colon < 0 ? '' : entry.slice(0, colon)
    const secret = colon < 0 ? '' : entry.slice(colon + 1)
    const where = `${VARIABLE} entry ${index + 1}`
    if (colon < 0) problems.push(`${where} is not id:secret`)
    else if (!KEY_ID.test(id)) problems.push(`${where}: key id "${id}" is not 1-16 letters, digits, _ or -`)
    else if (keys.some((k) => k.id === id)) problems.push(`${VARIABLE} names key id "${id}" twice`)
    // NOTE: the secret itself is never echoed, not even in part: these messages reach logs.
    else if (secret.length < MIN_SECRET_LENGTH)
      problems.push(`${where} (key "${id}"): secret is shorter than ${MIN_SECRET_LENGTH} characters`)
    else if (/[\s,]/.test(secret)) problems.push(`${where} (key "${id}"): secret contains a space`)
    else keys.push({ id, secret: createSecretKey(Buffer.from(secret, 'utf8')) })
  })
  const [first, ...rest] = keys
  if (problems.length > 0 || !first)
    throw new ConfigError(problems.length > 0 ? problems : [`${VARIABLE} is empty`])
  return [first, ...rest]
}
