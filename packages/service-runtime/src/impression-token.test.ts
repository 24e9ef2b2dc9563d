import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ConfigError } from './config.js'
import {
  DEVELOPMENT_TRACKING_KEYS,
  loadTrackingKeys,
  MAX_TOKEN_LENGTH,
  mintImpression,
  parseTrackingKeys,
  signImpression,
  verifyImpression,
} from './impression-token.js'

const OLD = 'k1:old-secret-old-secret-old-secret-0001'
const NEW = 'k2:new-secret-new-secret-new-secret-0002'
const keys = parseTrackingKeys(NEW)
const NOW = 1_750_000_000_000
const options = { adId: 'ad.1', now: NOW, maxAgeMs: 86_400_000, maxSkewMs: 30_000 }

/** The token with part `index` (0 version .. 5 ad id) replaced. */
function withPart(token: string, index: number, value: string): string {
  const parts = token.split('.')
  const head = parts.slice(0, 5)
  const adId = parts.slice(5).join('.')
  const all = [...head, adId]
  all[index] = value
  return all.join('.')
}

describe('impression tokens', () => {
  it('round-trips: a minted token verifies to its impression', () => {
    const minted = mintImpression(keys, 'ad.1', NOW)
    expect(minted.impressionId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(minted.token).toMatch(/^[A-Za-z0-9._:-]+$/)
    expect(minted.token.length).toBeLessThan(100)
    expect(verifyImpression(keys, minted.token, options)).toEqual({
      ok: true,
      adId: 'ad.1',
      impressionId: minted.impressionId,
      servedAt: NOW,
    })
    expect(mintImpression(keys, 'ad.1', NOW).impressionId).not.toBe(minted.impressionId)
  })

  it('refuses each tampered part with its reason', () => {
    const { token, impressionId } = mintImpression(keys, 'ad.1', NOW)
    const other = mintImpression(keys, 'ad.1', NOW).impressionId
    const flip = (mac: string) => (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)
    const mac = token.split('.')[4] as string
    expect(impressionId).not.toBe(other)
    const cases: [string, string][] = [
      [withPart(token, 5, 'ad.2'), 'bad_signature'],
      [withPart(token, 2, other), 'bad_signature'],
      [withPart(token, 3, String(NOW - 1)), 'bad_signature'],
      [withPart(token, 4, flip(mac)), 'bad_signature'],
      [withPart(token, 1, 'k9'), 'unknown_key'],
      [withPart(token, 0, 'v2'), 'malformed'],
    ]
    for (const [tampered, reason] of cases) {
      expect(verifyImpression(keys, tampered, options)).toEqual({ ok: false, reason })
    }
  })

  it('refuses a genuine token presented for another ad as wrong_ad', () => {
    const { token } = mintImpression(keys, 'ad.1', NOW)
    expect(verifyImpression(keys, token, { ...options, adId: 'ad.2' })).toEqual({
      ok: false,
      reason: 'wrong_ad',
    })
    expect(verifyImpression(keys, token, { ...options, adId: undefined }).ok).toBe(true)
  })

  it('accepts at exactly the maximum age and refuses 1 ms later', () => {
    const { token } = mintImpression(keys, 'ad.1', NOW)
    const atMax = { ...options, now: NOW + options.maxAgeMs }
    expect(verifyImpression(keys, token, atMax).ok).toBe(true)
    expect(verifyImpression(keys, token, { ...atMax, now: atMax.now + 1 })).toEqual({
      ok: false,
      reason: 'expired',
    })
  })

  it('forgives clock skew up to maxSkewMs, and refuses tokens from further in the future', () => {
    const { token } = mintImpression(keys, 'ad.1', NOW + options.maxSkewMs)
    expect(verifyImpression(keys, token, options).ok).toBe(true)
    const later = mintImpression(keys, 'ad.1', NOW + options.maxSkewMs + 1).token
    expect(verifyImpression(keys, later, options)).toEqual({ ok: false, reason: 'from_the_future' })
  })

  it('signs exactly the bytes earlier releases signed, so tokens already served keep verifying', () => {
    // Pinned from the release before the MAC input was built as one string: a tag served by an
    // analytics-api pod not yet updated must verify on an updated ingest-api, and the reverse.
    const pinned = 'v1.k2.AAECAwQFBgcICQoLDA0ODw.1750000000000.uSKdytBEgTCckOnT1Hp-SA.ad.1'
    const impression = { adId: 'ad.1', impressionId: 'AAECAwQFBgcICQoLDA0ODw', servedAt: NOW }
    expect(signImpression(keys, impression)).toBe(pinned)
    expect(verifyImpression(keys, pinned, options)).toEqual({ ok: true, ...impression })
  })

  it('holds the secrets as keys that never print', () => {
    const printed = `${inspect(keys, { depth: 5 })} ${JSON.stringify(keys)}`
    const secret = Buffer.from(NEW.slice(3))
    expect(printed).not.toContain(NEW.slice(3))
    // A Buffer would print as its bytes: in hex (inspect) or as numbers (JSON).
    expect(printed).not.toContain(inspect(secret).slice(8, 40))
    expect(printed).not.toContain(JSON.stringify([...secret]).slice(1, 30))
  })

  it('rotates: old tokens verify while both keys are configured, then are unknown_key', () => {
    const before = parseTrackingKeys(OLD)
    const during = parseTrackingKeys(`${NEW},${OLD}`)
    const after = parseTrackingKeys(NEW)
    const old = mintImpression(before, 'ad.1', NOW).token
    expect(verifyImpression(during, old, options).ok).toBe(true)
    expect(verifyImpression(after, old, options)).toEqual({ ok: false, reason: 'unknown_key' })
    const fresh = mintImpression(during, 'ad.1', NOW).token
    expect(fresh.split('.')[1]).toBe('k2')
    expect(verifyImpression(after, fresh, options).ok).toBe(true)
  })

  it('never throws on hostile input, and calls it malformed', () => {
    const genuine = mintImpression(keys, 'ad.1', NOW).token
    const inputs: unknown[] = [
      '',
      '.',
      '.....',
      'x'.repeat(10_000_000),
      genuine + 'x'.repeat(MAX_TOKEN_LENGTH),
      'not base64 at all!',
      genuine.replace(/\./g, '..'),
      `${genuine}\u0000`,
      genuine.replace('v1', 'v1\u0000'),
      withPart(genuine, 2, 'ü'.repeat(22)),
      withPart(genuine, 5, '😀'),
      withPart(genuine, 5, ''),
      withPart(genuine, 3, '0123'),
      withPart(genuine, 3, '1e12'),
      withPart(genuine, 3, '-1'),
      withPart(genuine, 4, '+/+/+/+/+/+/+/+/+/+/+/'),
      undefined,
      null,
      42,
      { toString: () => genuine },
    ]
    for (const input of inputs) {
      expect(verifyImpression(keys, input, options)).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  it('refuses to sign what it could never verify', () => {
    expect(() => signImpression(keys, { adId: 'bad id', impressionId: 'x', servedAt: NOW })).toThrow(
      TypeError,
    )
  })
})

describe('TRACKING_TOKEN_KEYS', () => {
  const problems = (text: string) => {
    try {
      parseTrackingKeys(text)
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      return (err as ConfigError).message
    }
    throw new Error('accepted')
  }

  it('puts the signing key first and keeps every key for verifying', () => {
    expect(parseTrackingKeys(` ${NEW} , ${OLD} `).map((k) => k.id)).toEqual(['k2', 'k1'])
  })

  it('names the variable and the problem, never the secret', () => {
    expect(problems('k1:short')).toMatch(
      /TRACKING_TOKEN_KEYS entry 1 \(key "k1"\): secret is shorter than 32/,
    )
    expect(problems('k1:short')).not.toMatch(/short$/)
    expect(problems(`${NEW},${NEW}`)).toMatch(/TRACKING_TOKEN_KEYS names key id "k2" twice/)
    expect(problems('no-colon-here-but-long-enough-to-be-a-secret')).toMatch(/entry 1 is not id:secret/)
    expect(problems(`${NEW},bad.id:${'s'.repeat(40)}`)).toMatch(/entry 2: key id "bad.id"/)
    expect(problems(`${NEW},`)).toMatch(/entry 2 is not id:secret/)
  })

  it('uses the development key when empty, and refuses it in production', () => {
    const dev = loadTrackingKeys({ TRACKING_TOKEN_KEYS: '', NODE_ENV: 'development' })
    expect(dev.development).toBe(true)
    expect(dev.keys[0].id).toBe('dev')
    expect(() => loadTrackingKeys({ TRACKING_TOKEN_KEYS: '', NODE_ENV: 'production' })).toThrow(
      /TRACKING_TOKEN_KEYS is required when NODE_ENV=production/,
    )
    expect(() =>
      loadTrackingKeys({
        TRACKING_TOKEN_KEYS: `${NEW},${DEVELOPMENT_TRACKING_KEYS}`,
        NODE_ENV: 'production',
      }),
    ).toThrow(/public development key/)
    expect(loadTrackingKeys({ TRACKING_TOKEN_KEYS: NEW, NODE_ENV: 'production' }).development).toBe(false)
  })
})
