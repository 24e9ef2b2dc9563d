import { type ClickMessage, viewerId } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { decodeClick } from './decode.js'

const valid: ClickMessage = {
  v: 1,
  click_id: 'c5b0e6a2-4a7e-4b7a-9f51-2d3c1a1e7f00',
  ad_id: '1',
  playback_time: 30,
  received_at: '2026-11-25T12:00:00.000Z',
  ip: '203.0.113.7',
  user_agent: 'Mozilla/5.0',
}
const encode = (v: unknown) => Buffer.from(JSON.stringify(v))

describe('decodeClick', () => {
  it('returns the click for a valid message', () => {
    expect(decodeClick(encode(valid))).toEqual({ ok: true, click: valid })
  })

  it.each([
    ['a null value (tombstone)', null, /empty/],
    ['bytes that are not JSON', Buffer.from('{"ad_id":'), /not JSON/],
    ['an unknown version', encode({ ...valid, v: 9 }), /ClickMessage/],
    ['a playback time out of range', encode({ ...valid, playback_time: 5000 }), /playback_time/],
    ['a missing click id', encode({ ...valid, click_id: undefined }), /ClickMessage/],
  ])('refuses %s with a reason', (_name, value, reason) => {
    const decoded = decodeClick(value as Buffer | null)
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expect(decoded.reason).toMatch(reason)
  })
})

describe('viewerId', () => {
  it('is the same for the same IP and user agent and differs otherwise', () => {
    expect(viewerId(valid)).toBe(viewerId({ ...valid, click_id: 'another-click-id' }))
    expect(viewerId(valid)).not.toBe(viewerId({ ...valid, ip: '203.0.113.8' }))
    expect(viewerId(valid)).not.toBe(viewerId({ ...valid, user_agent: 'curl/8' }))
    expect(viewerId(valid)).not.toContain('203.0.113.7')
  })
})
