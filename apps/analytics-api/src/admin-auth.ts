import { createHash, timingSafeEqual } from 'node:crypto'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyRequest } from 'fastify'

/** Name of the admin API key in the OpenAPI description (`components.securitySchemes`). */
export const ADMIN_SECURITY_SCHEME = 'adminApiKey'

/** RFC 6750 `Authorization: Bearer <token>`; the scheme name is case-insensitive. */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i
const CHALLENGE = 'Bearer realm="admin"'

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()

/**
 * The admin API keys (config ADMIN_API_KEYS). A presented key is compared with every configured key, in
 * constant time on SHA-256 digests (equal lengths whatever was sent), so neither the time taken nor an
 * early exit tells an attacker how close a guess was or which key it resembled.
 */
export class AdminKeys {
  private readonly digests: Buffer[]
  /** Safe to log: names the key that was used (for audits and rotation) without revealing it. */
  readonly fingerprints: string[]

  constructor(keys: string[]) {
    this.digests = keys.map(sha256)
    this.fingerprints = this.digests.map((d) => d.toString('hex').slice(0, 12))
  }

  /** `ADMIN_API_KEYS` as configured: comma-separated, spaces around keys ignored. */
  static parse(text: string): AdminKeys {
    return new AdminKeys(
      text
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
    )
  }

  get enabled(): boolean {
    return this.digests.length > 0
  }

  /** Index of the configured key equal to `candidate`, or -1. */
  match(candidate: string): number {
    const digest = sha256(candidate)
    let found = -1
    this.digests.forEach((key, i) => {
      if (timingSafeEqual(key, digest) && found === -1) found = i
    })
    return found
  }
}

/**
 * An onRequest hook for the admin routes: it runs before the body is read, so nothing about a request
 * is looked at (or validated) until its key is good.
 * - no keys configured: 403 ADMIN_DISABLED, whatever is sent (no credential can work);
 * - no Authorization header, or not `Bearer <token>`: 401 with a `WWW-Authenticate` challenge;
 * - a well-formed key that is not configured: 403 ADMIN_KEY_INVALID.
 */
export function requireAdminKey(keys: AdminKeys) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!keys.enabled) {
      throw new HttpError(
        403,
        'the admin endpoints are disabled on this server: set ADMIN_API_KEYS to enable them',
        'ADMIN_DISABLED',
      )
    }
    const header = request.headers.authorization
    if (header === undefined || header === '') {
      throw new HttpError(
        401,
        'an admin API key is required: send "Authorization: Bearer <key>"',
        'ADMIN_KEY_MISSING',
        { 'www-authenticate': CHALLENGE },
      )
    }
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) {
      throw new HttpError(
        401,
        'malformed Authorization header: expected "Bearer <key>"',
        'ADMIN_KEY_MALFORMED',
        { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` },
      )
    }
    const index = keys.match(token)
    if (index === -1) {
      request.log.warn('admin request with an unknown API key')
      throw new HttpError(403, 'the admin API key is not valid', 'ADMIN_KEY_INVALID')
    }
    // Every later line of this request's log names the key used.
    request.log = request.log.child({ admin_key: keys.fingerprints[index] })
  }
}
