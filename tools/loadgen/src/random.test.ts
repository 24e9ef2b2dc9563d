import { describe, expect, it } from 'vitest'
import { mulberry32, ZipfSampler } from './random.js'

describe('mulberry32', () => {
  it('is deterministic for a seed and stays in [0, 1)', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    for (let i = 0; i < 1000; i++) {
      const x = a()
      expect(x).toBe(b())
      expect(x).toBeGreaterThanOrEqual(0)
      expect(x).toBeLessThan(1)
    }
  })
})

describe('ZipfSampler', () => {
  it('gives rank k probability proportional to 1/(k+1)^s, summing to 1', () => {
    const z = new ZipfSampler(10, 1)
    const h10 = Array.from({ length: 10 }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b)
    for (let k = 0; k < 10; k++) expect(z.probability(k)).toBeCloseTo(1 / (k + 1) / h10, 12)
    let sum = 0
    for (let k = 0; k < 10; k++) sum += z.probability(k)
    expect(sum).toBeCloseTo(1, 12)
  })

  it('draws ranks with those frequencies', () => {
    const z = new ZipfSampler(10, 1.1, mulberry32(7))
    const counts = new Array(10).fill(0)
    const draws = 200_000
    for (let i = 0; i < draws; i++) counts[z.next()]++
    for (let k = 0; k < 10; k++) expect(counts[k] / draws).toBeCloseTo(z.probability(k), 2)
    expect(counts[0]).toBeGreaterThan(counts[9] * 5)
  })

  it('is uniform with s = 0 and always 0 with one item', () => {
    const uniform = new ZipfSampler(4, 0)
    for (let k = 0; k < 4; k++) expect(uniform.probability(k)).toBeCloseTo(0.25, 12)
    const one = new ZipfSampler(1, 2)
    for (let i = 0; i < 100; i++) expect(one.next()).toBe(0)
  })

  it('never draws outside 0..n-1, even at the edges of the random source', () => {
    expect(new ZipfSampler(5, 1, () => 0).next()).toBe(0)
    expect(new ZipfSampler(5, 1, () => 0.999999999999).next()).toBe(4)
  })

  it('refuses a bad n or s', () => {
    expect(() => new ZipfSampler(0, 1)).toThrow(RangeError)
    expect(() => new ZipfSampler(2.5, 1)).toThrow(RangeError)
    expect(() => new ZipfSampler(3, -1)).toThrow(RangeError)
  })
})
