import { PLAYBACK_EVENTS } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { addEvents, noEvents, perImpression, videoFigures } from './video-figures.js'

describe('video figures', () => {
  it('rates per impression, null without impressions', () => {
    expect(perImpression(3, 12)).toBe(0.25)
    expect(perImpression(0, 5)).toBe(0)
    expect(perImpression(4, 0)).toBeNull()
    // Clicks without an impression (POST /ads/click) can exceed the impressions: shown, not capped.
    expect(perImpression(3, 2)).toBe(1.5)
  })

  it('answers every playback event (zero when none), errors as counted, and both rates', () => {
    const figures = videoFigures(2, {
      events: { impression: 8, start: 7, complete: 6, error: 1, click: 99 },
      errors: { '402': 1 },
    })
    expect(figures).toEqual({
      impressions: 8,
      ctr: 0.25,
      completion_rate: 0.75,
      events: {
        start: 7,
        first_quartile: 0,
        midpoint: 0,
        third_quartile: 0,
        complete: 6,
        skip: 0,
        pause: 0,
        resume: 0,
        mute: 0,
        unmute: 0,
      },
      errors: { '402': 1 },
    })
    expect(Object.keys(figures.events)).toEqual([...PLAYBACK_EVENTS])
  })

  it('answers zeros and null rates without any event', () => {
    expect(videoFigures(5, noEvents())).toMatchObject({ impressions: 0, ctr: null, completion_rate: null })
  })

  it('adds tallies field by field', () => {
    const sum = noEvents()
    addEvents(sum, { events: { impression: 2 }, errors: { '405': 1 } })
    addEvents(sum, { events: { impression: 1, complete: 1 }, errors: { '405': 2, unknown: 1 } })
    expect(sum).toEqual({ events: { impression: 3, complete: 1 }, errors: { '405': 3, unknown: 1 } })
  })
})
