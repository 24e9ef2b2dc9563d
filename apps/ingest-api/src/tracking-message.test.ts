import { EventMessage } from '@adtrack/contracts'
import { mintImpression, parseTrackingKeys, signImpression } from '@adtrack/service-runtime/impression-token'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import type { ClickReceipt } from './click-message.js'
import {
  checkToken,
  eventMessage,
  readTrackingQuery,
  TOKEN_MAX_SKEW_MS,
  TOKEN_REFUSAL_LABELS,
} from './tracking-message.js'

const keys = parseTrackingKeys('k1:unit-test-tracking-key-0123456789abcdef')
const rules = { keys, maxAgeMs: 60_000 }
const now = 1_750_000_000_000
const receipt: ClickReceipt = {
  ip: '203.0.113.9',
  user_agent: 'Player/1',
  received_at: '2025-06-15T15:06:40.000Z',
}
const eventMessageSchema = Compile(EventMessage)

describe('readTrackingQuery', () => {
  it('reads the token as sent and the substituted macros', () => {
    expect(
      readTrackingQuery({ t: 'tok', error_code: '405', ad_playhead: '00:00:07.250', cb: '123' }),
    ).toEqual({
      token: 'tok',
      errorCode: 405,
      adPlayhead: 7.25,
    })
  })

  it.each([
    ['literal', '[ERRORCODE]', '[ADPLAYHEAD]'],
    ['percent-encoded', '%5BERRORCODE%5D', '%5BADPLAYHEAD%5D'],
    ['twice encoded', '%255BERRORCODE%255D', '%255BADPLAYHEAD%255D'],
    ['garbage', '9999', 'soon'],
  ])('reads a %s macro as absent, never as an error', (_name, errorCode, adPlayhead) => {
    const read = readTrackingQuery({ t: 'tok', error_code: errorCode, ad_playhead: adPlayhead })
    expect(read.errorCode).toBeUndefined()
    expect(read.adPlayhead).toBeUndefined()
  })

  it('leaves a missing token missing', () => {
    expect(readTrackingQuery({}).token).toBeUndefined()
  })
})

describe('checkToken', () => {
  const minted = mintImpression(keys, 'ad-1', now)

  it('accepts a token of the URL’s ad, within its age, and names the impression', () => {
    expect(checkToken(rules, minted.token, { adId: 'ad-1', now: now + 1000 })).toEqual({
      ok: true,
      impression: { adId: 'ad-1', impressionId: minted.impressionId, servedAt: now },
    })
  })

  it('takes the token’s own ad when the route has none (the SDK route)', () => {
    const check = checkToken(rules, minted.token, { now })
    expect(check.ok && check.impression.adId).toBe('ad-1')
  })

  it.each([
    ['missing', undefined, now],
    ['missing', '', now],
    ['malformed', 'not-a-token', now],
    ['malformed', ['a', 'b'], now],
    [
      'unknown_key',
      signImpression(parseTrackingKeys('k9:another-tracking-key-0123456789abcdef'), {
        adId: 'ad-1',
        impressionId: minted.impressionId,
        servedAt: now,
      }),
      now,
    ],
    ['bad_signature', minted.token.replace(/\.ad-1$/, '.ad-2'), now],
    ['wrong_ad', mintImpression(keys, 'ad-2', now).token, now],
    ['expired', minted.token, now + 60_001],
    ['from_the_future', minted.token, now - TOKEN_MAX_SKEW_MS - 1],
  ])('refuses as %s', (reason, token, at) => {
    expect(checkToken(rules, token, { adId: 'ad-1', now: at })).toEqual({ ok: false, reason })
    expect(TOKEN_REFUSAL_LABELS).toContain(reason)
  })

  it('forgives a clock skew of up to TOKEN_MAX_SKEW_MS', () => {
    expect(checkToken(rules, minted.token, { adId: 'ad-1', now: now - TOKEN_MAX_SKEW_MS }).ok).toBe(true)
  })
})

describe('eventMessage', () => {
  const impression = { adId: 'ad-1', impressionId: 'JPEH3DrRpyJzpyA4sGPsjQ', servedAt: now - 5000 }

  it('builds a valid version 2 message: the impression’s ids and serve time, the request’s receipt', () => {
    const message = eventMessage('first_quartile', impression, receipt, { adPlayhead: 2.5 })
    expect(message).toEqual({
      v: 2,
      type: 'first_quartile',
      impression_id: 'JPEH3DrRpyJzpyA4sGPsjQ',
      ad_id: 'ad-1',
      served_at: new Date(now - 5000).toISOString(),
      received_at: receipt.received_at,
      ip: receipt.ip,
      user_agent: receipt.user_agent,
      ad_playhead: 2.5,
    })
    expect(eventMessageSchema.Check(message)).toBe(true)
  })

  it('keeps an error code for an error event only', () => {
    expect(eventMessage('error', impression, receipt, { errorCode: 405 }).error_code).toBe(405)
    expect(eventMessage('start', impression, receipt, { errorCode: 405 })).not.toHaveProperty('error_code')
    expect(eventMessage('error', impression, receipt)).not.toHaveProperty('error_code')
  })

  it('leaves out a playhead beyond the contract’s bound rather than sending an invalid message', () => {
    // [ADPLAYHEAD] allows up to 999 hours; the message takes an hour at most.
    const message = eventMessage('complete', impression, receipt, { adPlayhead: 3601 })
    expect(message).not.toHaveProperty('ad_playhead')
    expect(eventMessageSchema.Check(message)).toBe(true)
  })
})
