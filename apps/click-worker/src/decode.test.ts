import { type ClickMessage, type EventMessage, viewerId } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { decodeRecord } from './decode.js'

const valid: ClickMessage = {
  v: 1,
  click_id: 'c5b0e6a2-4a7e-4b7a-9f51-2d3c1a1e7f00',
  ad_id: '1',
  playback_time: 30,
  received_at: '2026-11-25T12:00:00.000Z',
  ip: '203.0.113.7',
  user_agent: 'Mozilla/5.0',
}
const event: EventMessage = {
  v: 2,
  type: 'midpoint',
  impression_id: 'AAAAAAAAAAAAAAAAAAAAAA',
  ad_id: '1',
  served_at: '2026-11-25T11:59:58.000Z',
  received_at: '2026-11-25T12:00:00.000Z',
  ip: '203.0.113.7',
  user_agent: 'Mozilla/5.0',
}
const encode = (v: unknown) => Buffer.from(JSON.stringify(v))

describe('decodeRecord', () => {
  it('returns the click for a valid version 1 message', () => {
    expect(decodeRecord(encode(valid))).toEqual({ ok: true, click: valid })
  })

  it('returns the event for a valid version 2 message', () => {
    const error = { ...event, type: 'error', error_code: 405, ad_playhead: 12.5, viewer_id: 'dev-1' }
    expect(decodeRecord(encode(event))).toEqual({ ok: true, event })
    expect(decodeRecord(encode(error))).toEqual({ ok: true, event: error })
  })

  it.each([
    ['a null value (tombstone)', null, /empty/],
    ['bytes that are not JSON', Buffer.from('{"ad_id":'), /not JSON/],
    ['an unknown version', encode({ ...valid, v: 9 }), /unknown message version 9: neither ClickMessage/],
    ['no version', encode({ ...valid, v: undefined }), /unknown message version none/],
    ['JSON that is not an object', encode(null), /unknown message version/],
    [
      'a playback time out of range',
      encode({ ...valid, playback_time: 5000 }),
      /ClickMessage v1: \/playback_time/,
    ],
    ['a missing click id', encode({ ...valid, click_id: undefined }), /ClickMessage/],
    ['a click shaped as version 2', encode({ ...valid, v: 2 }), /EventMessage v2/],
    ['an event shaped as version 1', encode({ ...event, v: 1 }), /ClickMessage v1/],
    ['an unknown event type', encode({ ...event, type: 'rewind' }), /EventMessage v2: \/type/],
    ['a bad impression id', encode({ ...event, impression_id: "x' or 1=1" }), /\/impression_id/],
    ['an error code out of range', encode({ ...event, error_code: 1000 }), /\/error_code/],
    ['a negative playhead', encode({ ...event, ad_playhead: -1 }), /\/ad_playhead/],
    ['an extra field', encode({ ...event, sql: 'drop table' }), /EventMessage v2/],
    ['a control character in the user agent', encode({ ...event, user_agent: 'a\u0000b' }), /\/user_agent/],
    ['a leap-second receive time', encode({ ...event, received_at: '2026-12-31T23:59:60Z' }), /received_at/],
  ])('refuses %s with a reason', (_name, value, reason) => {
    const decoded = decodeRecord(value as Buffer | null)
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expect(decoded.reason).toMatch(reason)
  })

  it('bounds what a hostile version puts in the reason', () => {
    const decoded = decodeRecord(encode({ v: 'x'.repeat(10_000) }))
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expect(decoded.reason.length).toBeLessThan(200)
  })
})

describe('viewerId', () => {
  it('is the same for the same IP and user agent and differs otherwise', () => {
    const retried: ClickMessage = { ...valid, click_id: 'another-click-id' }
    expect(viewerId(valid)).toBe(viewerId(retried))
    expect(viewerId(valid)).not.toBe(viewerId({ ...valid, ip: '203.0.113.8' }))
    expect(viewerId(valid)).not.toBe(viewerId({ ...valid, user_agent: 'curl/8' }))
    expect(viewerId(valid)).not.toContain('203.0.113.7')
  })

  it('is one rule for clicks and events: an impression’s viewer is its click’s viewer', () => {
    expect(viewerId(event)).toBe(viewerId(valid))
    expect(viewerId({ ...event, viewer_id: 'dev-1' })).toBe(viewerId({ ...valid, viewer_id: 'dev-1' }))
    expect(viewerId({ ...event, viewer_id: 'dev-1' })).toBe('v:dev-1')
  })
})
