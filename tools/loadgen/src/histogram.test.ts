import { describe, expect, it } from 'vitest'
import { Histogram } from './histogram.js'

describe('Histogram', () => {
  it('reports percentiles within 1% of the exact values', () => {
    const h = new Histogram()
    const values: number[] = []
    for (let i = 1; i <= 10_000; i++) values.push(i / 10) // 0.1 .. 1000 ms
    for (const v of [...values].reverse()) h.record(v)
    for (const p of [1, 50, 90, 99, 99.9]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1] as number
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThanOrEqual(0.0101)
    }
    expect(h.percentile(100)).toBe(1000)
    expect(h.count).toBe(10_000)
    expect(h.mean).toBeCloseTo(500.05, 6)
    expect(h.max).toBe(1000)
  })

  it('answers 0 when empty, and the value itself for a single one', () => {
    const h = new Histogram()
    expect(h.percentile(50)).toBe(0)
    h.record(3.7)
    expect(h.percentile(0)).toBeCloseTo(3.7, 1)
    expect(h.percentile(99)).toBeCloseTo(3.7, 1)
  })

  it('clamps values outside its range instead of losing them', () => {
    const h = new Histogram(0.01, 1000)
    h.record(-5)
    h.record(0.001)
    h.record(5000)
    expect(h.count).toBe(3)
    expect(h.percentile(100)).toBe(1000)
  })

  it('adds another histogram and resets', () => {
    const a = new Histogram()
    const b = new Histogram()
    for (let i = 0; i < 99; i++) a.record(1)
    b.record(100)
    a.add(b)
    expect(a.count).toBe(100)
    expect(a.percentile(50)).toBeCloseTo(1, 1)
    expect(a.percentile(100)).toBeCloseTo(100, 0)
    a.reset()
    expect(a.count).toBe(0)
    expect(a.percentile(99)).toBe(0)
    expect(() => a.add(new Histogram(0.01, 10))).toThrow()
  })
})
