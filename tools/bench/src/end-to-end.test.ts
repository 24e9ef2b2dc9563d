import { describe, expect, it } from 'vitest'
import { visibleRate } from './end-to-end.js'

describe('visibleRate', () => {
  it('counts from the first visible click, so that the delivery delay is not read as a lack of capacity', () => {
    // 10 s of load at 1,000/s, each click visible 1 s after its 2xx: 9,000 visible when the load ends.
    expect(visibleRate(9000, 1000, 10_000, 10)).toBe(1000)
  })

  it('reads a pipeline that falls behind at the rate it kept up with', () => {
    // Visible from t = 0.5 s at 400/s while 1,000/s were offered.
    expect(visibleRate(3800, 500, 10_000, 10)).toBe(400)
  })

  it('falls back to the whole load when nothing, or little time, was left to count from', () => {
    expect(visibleRate(0, undefined, 10_000, 10)).toBe(0)
    expect(visibleRate(100, 9900, 10_000, 10)).toBe(10)
  })
})
