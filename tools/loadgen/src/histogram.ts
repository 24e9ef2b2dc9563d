/**
 * A latency histogram with logarithmic buckets: every recorded value is within `precision` (1%) of the
 * value reported for it, whatever its size, in constant memory. Values are milliseconds (fractions
 * welcome); values below `minMs` share the first bucket.
 */
export class Histogram {
  private counts: Float64Array
  private readonly logBase: number
  private total = 0
  private sum = 0
  private maxSeen = 0
  private minSeen = Number.POSITIVE_INFINITY

  constructor(
    private readonly minMs = 0.01,
    private readonly maxMs = 600_000,
    private readonly precision = 0.01,
  ) {
    this.logBase = Math.log1p(precision)
    this.counts = new Float64Array(this.indexOf(maxMs) + 1)
  }

  private indexOf(ms: number): number {
    if (ms <= this.minMs) return 0
    return Math.ceil(Math.log(ms / this.minMs) / this.logBase)
  }

  /** The upper bound of bucket i: what a percentile falling in it reports. */
  private valueAt(i: number): number {
    return this.minMs * (1 + this.precision) ** i
  }

  record(ms: number, count = 1): void {
    const v = Math.min(Math.max(ms, 0), this.maxMs)
    this.counts[this.indexOf(v)] = (this.counts[this.indexOf(v)] as number) + count
    this.total += count
    this.sum += v * count
    if (v > this.maxSeen) this.maxSeen = v
    if (v < this.minSeen) this.minSeen = v
  }

  get count(): number {
    return this.total
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total
  }

  get max(): number {
    return this.maxSeen
  }

  /** The value at percentile p (0-100): the smallest bucket bound with at least p% of values at or below it. */
  percentile(p: number): number {
    if (this.total === 0) return 0
    const rank = Math.max(1, Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number
      if (seen >= rank) return Math.min(this.valueAt(i), this.maxSeen, this.maxMs)
    }
    return this.maxSeen
  }

  /** Adds another histogram's values (built with the same bounds and precision). */
  add(other: Histogram): void {
    if (other.counts.length !== this.counts.length) throw new Error('histograms of different shapes')
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number)
    }
    this.total += other.total
    this.sum += other.sum
    this.maxSeen = Math.max(this.maxSeen, other.maxSeen)
    this.minSeen = Math.min(this.minSeen, other.minSeen)
  }

  reset(): void {
    this.counts.fill(0)
    this.total = 0
    this.sum = 0
    this.maxSeen = 0
    this.minSeen = Number.POSITIVE_INFINITY
  }
}
