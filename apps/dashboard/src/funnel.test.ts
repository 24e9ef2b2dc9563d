import { describe, expect, it } from 'vitest'
import { formatRate } from './format.js'
import { funnel } from './funnel.js'

const events = {
  start: 80,
  first_quartile: 60,
  midpoint: 60,
  third_quartile: 30,
  complete: 15,
  skip: 5,
  pause: 0,
  resume: 0,
  mute: 0,
  unmute: 0,
}

describe('the quartile funnel', () => {
  it('lists impression → start → 25% → 50% → 75% → complete with drop-off from the step before', () => {
    const steps = funnel({ impressions: 100, events })
    expect(steps.map((s) => [s.label, s.count, s.ofImpressions, s.dropOff])).toEqual([
      ['Impression', 100, 1, null],
      ['Start', 80, 0.8, 0.19999999999999996],
      ['25%', 60, 0.6, 0.25],
      ['50%', 60, 0.6, 0],
      ['75%', 30, 0.3, 0.5],
      ['Complete', 15, 0.15, 0.5],
    ])
  })

  it('has no rates for an ad without traffic, rather than 0% or NaN', () => {
    const none = { start: 0, first_quartile: 0, midpoint: 0, third_quartile: 0, complete: 0 }
    const steps = funnel({ impressions: 0, events: { ...events, ...none } })
    expect(steps.every((s) => s.count === 0 && s.ofImpressions === null && s.dropOff === null)).toBe(true)
    expect(steps.map((s) => formatRate(s.dropOff))).toEqual(Array(6).fill('—'))
  })
})

describe('rates as the page shows them', () => {
  it.each([
    [0.0312, '3.1%'],
    [0.5, '50%'],
    [1, '100%'],
    [1.25, '125%'],
    [0, '0%'],
    [null, '—'],
  ])('%s → %s', (rate, text) => {
    expect(formatRate(rate)).toBe(text)
  })
})
