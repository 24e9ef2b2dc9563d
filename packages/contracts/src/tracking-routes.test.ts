import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import {
  type ClickMessage,
  type EventMessage,
  PixelParams,
  TrackingEventsReply,
  TrackingEventsRequest,
  trackingMessageKey,
} from './index.js'

describe('trackingMessageKey', () => {
  it('keys a click by its ad and an event by its impression', () => {
    const click = { v: 1, click_id: 'c-00000001', ad_id: 'ad-1' } as ClickMessage
    const event = { v: 2, impression_id: 'JPEH3DrRpyJzpyA4sGPsjQ', ad_id: 'ad-1' } as EventMessage
    expect(trackingMessageKey(click)).toBe('ad-1')
    expect(trackingMessageKey(event)).toBe('JPEH3DrRpyJzpyA4sGPsjQ')
  })
})

describe('the tracking routes’ schemas', () => {
  it('name an event in our snake_case only', () => {
    const params = Compile(PixelParams)
    expect(params.Check({ ad_id: '1', event: 'first_quartile' })).toBe(true)
    expect(params.Check({ ad_id: '1', event: 'firstQuartile' })).toBe(false)
    expect(params.Check({ ad_id: '1', event: 'clickthrough' })).toBe(false)
  })

  it('take one SDK event or a non-empty array of anything (items are judged one by one)', () => {
    const request = Compile(TrackingEventsRequest)
    expect(request.Check({ t: 'x', event: 'start' })).toBe(true)
    expect(request.Check([{ t: 'x', event: 'start' }, 'not an event'])).toBe(true)
    expect(request.Check([])).toBe(false)
    expect(request.Check({ t: 'x', event: 'rewind' })).toBe(false)
  })

  it('describe a reply with accepted and rejected results', () => {
    const reply = Compile(TrackingEventsReply)
    expect(
      reply.Check({
        accepted: 1,
        rejected: 1,
        results: [
          { status: 'accepted', event: 'start', impression_id: 'JPEH3DrRpyJzpyA4sGPsjQ' },
          {
            status: 'rejected',
            statusCode: 403,
            code: 'BAD_TOKEN',
            message: 'body/1/t was refused: expired',
          },
        ],
      }),
    ).toBe(true)
  })
})
