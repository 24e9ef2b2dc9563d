import { type EventMessage, impressionClickId } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { clickOfEvent, epochMinute, errorCodeOf } from './impression-events.js'

const event: EventMessage = {
  v: 2,
  type: 'click',
  impression_id: 'BBBBBBBBBBBBBBBBBBBBBB',
  ad_id: 'ad-7',
  served_at: '2026-11-25T11:59:00.000Z',
  received_at: '2026-11-25T12:00:30.000Z',
  ip: '198.51.100.4',
  user_agent: 'Mozilla/5.0',
}

describe('clickOfEvent', () => {
  it('is the click of the impression, with its receive time, viewer and no impression-less id', () => {
    expect(clickOfEvent({ ...event, viewer_id: 'dev-9', ad_playhead: 12.4 })).toEqual({
      v: 1,
      click_id: 'imp:BBBBBBBBBBBBBBBBBBBBBB',
      ad_id: 'ad-7',
      playback_time: 12,
      received_at: '2026-11-25T12:00:30.000Z',
      ip: '198.51.100.4',
      user_agent: 'Mozilla/5.0',
      viewer_id: 'dev-9',
    })
    expect(clickOfEvent(event).click_id).toBe(impressionClickId(event.impression_id))
    expect(clickOfEvent(event)).not.toHaveProperty('viewer_id')
  })

  it.each([
    [undefined, 0],
    [0, 0],
    [12.5, 13],
    [3599.6, 3600],
    [3600, 3600],
    [1e9, 3600], // the contract bounds it; the mapping does not rely on that
    [-3, 0],
    [Number.NaN, 0],
  ])('plays %s seconds as %s', (playhead, seconds) => {
    const message = playhead === undefined ? event : { ...event, ad_playhead: playhead }
    expect(clickOfEvent(message).playback_time).toBe(seconds)
  })
})

describe('errorCodeOf', () => {
  it('keeps the code of an error event only', () => {
    expect(errorCodeOf({ ...event, type: 'error', error_code: 402 })).toBe(402)
    expect(errorCodeOf({ ...event, type: 'error' })).toBeNull()
    expect(errorCodeOf({ ...event, type: 'start', error_code: 402 })).toBeNull()
  })
})

describe('epochMinute', () => {
  it('is the minute since the epoch that the receive time falls in', () => {
    expect(epochMinute('1970-01-01T00:01:59.999Z')).toBe(1)
    expect(epochMinute('2026-11-25T12:00:30.000Z')).toBe(Date.parse('2026-11-25T12:00:00.000Z') / 60_000)
  })
})
