import { mulberry32 } from '@adtrack/loadgen'
import { describe, expect, it } from 'vitest'
import { judgeStep, nextRate, roundRate, type StepMeasure } from './rate-search.js'

const measure = (rate: number, over: Partial<StepMeasure> = {}): StepMeasure => ({
  rate,
  ackedRate: rate,
  visibleRate: rate,
  acknowledged: rate * 5,
  delivered: rate * 5,
  deliveryP99Ms: 200,
  ...over,
})
const step = (rate: number, over: Partial<StepMeasure> = {}) => {
  const m = measure(rate, over)
  return { ...m, ...judgeStep(m) }
}

describe('judgeStep', () => {
  it('passes a rate acknowledged in full and visible within 1 s at p99', () => {
    expect(judgeStep(measure(1000, { ackedRate: 980, deliveryP99Ms: 1000 }))).toEqual({
      pass: true,
      reasons: [],
    })
  })

  it('fails, saying why, a rate acknowledged short of 98%, slow to be visible, or not visible at all', () => {
    expect(judgeStep(measure(1000, { ackedRate: 979 })).reasons).toEqual([
      '979/s acknowledged, under 98% of 1000/s offered',
    ])
    expect(judgeStep(measure(1000, { deliveryP99Ms: 1500 })).reasons).toEqual([
      'delivery p99 1500 ms over 1000 ms',
    ])
    expect(judgeStep(measure(1000, { delivered: 4990 })).reasons).toEqual([
      '10 acknowledged clicks not visible',
    ])
    expect(judgeStep(measure(1000, { deliveryP99Ms: Number.NaN })).pass).toBe(false)
    expect(judgeStep(measure(1000, { acknowledged: 0, delivered: 0 })).pass).toBe(false)
  })
})

describe('nextRate', () => {
  it('stops at once when the target passes: the search only goes down', () => {
    expect(nextRate([step(10_000)])).toBeUndefined()
    expect(nextRate([])).toBeUndefined()
  })

  it('tries just under what a failing step kept up with', () => {
    // Ingest acknowledged 3,600/s of 10,000/s offered.
    expect(nextRate([step(10_000, { ackedRate: 3600, visibleRate: 3550 })])).toBe(3200)
    // Ingest kept up, the worker did not: 26,000/s became visible, delivery p99 15 s.
    expect(nextRate([step(50_000, { ackedRate: 49_500, visibleRate: 26_000, deliveryP99Ms: 15_000 })])).toBe(
      23_400,
    )
  })

  it('halves while nothing passes and the failures are not for lack of capacity', () => {
    expect(nextRate([step(10_000, { deliveryP99Ms: 1200 })])).toBe(5000)
    const steps = [
      step(10_000, { deliveryP99Ms: 1200 }),
      step(5000, { deliveryP99Ms: 1100, visibleRate: 4800 }),
    ]
    expect(nextRate(steps)).toBe(2400)
    // The lowest failing step fell clearly short: just under what it kept up with, again.
    expect(nextRate([step(10_000, { ackedRate: 3600 }), step(3240, { ackedRate: 2800 })])).toBe(2520)
  })

  it('bisects between the highest passing rate and the lowest failing one, tightened by what it kept up with', () => {
    const failing = step(10_000, { ackedRate: 4000 })
    expect(nextRate([failing, step(3600)])).toBe(3800)
    expect(
      nextRate([step(10_000, { deliveryP99Ms: 5000 }), step(2000), step(6000, { deliveryP99Ms: 1200 })]),
    ).toBe(4000)
  })

  it('stops once the bracket is within the resolution, or below the least rate', () => {
    expect(nextRate([step(10_000, { ackedRate: 3700 }), step(3600)])).toBeUndefined()
    expect(nextRate([step(10_000, { ackedRate: 3700 }), step(3000)], { resolution: 0.2 })).toBeUndefined()
    expect(nextRate([step(10, { ackedRate: 1 })], { minRate: 5 })).toBeUndefined()
  })

  it('never proposes a rate outside the bracket, and always ends', () => {
    const random = mulberry32(42)
    for (let run = 0; run < 200; run++) {
      const capacity = 100 + random() * 50_000
      const steps: ReturnType<typeof step>[] = []
      let rate: number | undefined = 50_000
      while (rate !== undefined) {
        expect(steps.length).toBeLessThan(40)
        const passing = steps.filter((s) => s.pass).map((s) => s.rate)
        const failing = steps.filter((s) => !s.pass).map((s) => s.rate)
        expect(rate).toBeGreaterThan(Math.max(0, ...passing))
        expect(rate).toBeLessThan(Math.min(Number.POSITIVE_INFINITY, ...failing))
        const kept = Math.min(rate, capacity * (0.9 + random() * 0.2))
        steps.push(
          step(rate, { ackedRate: kept, visibleRate: kept, deliveryP99Ms: rate > capacity ? 5000 : 300 }),
        )
        rate = nextRate(steps)
      }
      const best = Math.max(0, ...steps.filter((s) => s.pass).map((s) => s.rate))
      expect(best).toBeLessThanOrEqual(capacity)
    }
  })
})

describe('roundRate', () => {
  it('keeps three significant digits', () => {
    expect([3149.7, 23_456, 0.5, 0].map(roundRate)).toEqual([3150, 23_500, 0.5, 0])
  })
})
