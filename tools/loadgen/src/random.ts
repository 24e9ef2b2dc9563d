/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same traffic. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Samples ranks 0..n-1 with P(k) proportional to 1 / (k+1)^s: a few items take most of the draws, as a
 * few ads take most of the clicks. s = 0 is uniform. O(n) set-up, O(log n) per draw.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array

  constructor(
    readonly n: number,
    readonly s: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`)
    if (!(s >= 0)) throw new RangeError(`s must be >= 0, got ${s}`)
    this.cdf = new Float64Array(n)
    let total = 0
    for (let k = 0; k < n; k++) {
      total += 1 / (k + 1) ** s
      this.cdf[k] = total
    }
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / total
    this.cdf[n - 1] = 1
  }

  /** The probability of rank k. */
  probability(k: number): number {
    return (this.cdf[k] as number) - (k === 0 ? 0 : (this.cdf[k - 1] as number))
  }

  next(): number {
    const u = this.random()
    let lo = 0
    let hi = this.n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.cdf[mid] as number) > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}
