/**
 * When each request of an open-loop run should start. With a target rate, request k is due at
 * `startedAt + k / requestsPerSecond` whether or not the previous ones have been answered; flat out
 * (rate 0), a request is due whenever a connection is free and its intended time is its actual send.
 *
 * NOTE: latency is measured from the intended time, not from the actual send (as wrk2 does). When the
 * server stalls, every connection is busy and requests start late; timing them from their late start
 * would hide the stall from the percentiles ("coordinated omission"), since the load generator would be
 * waiting along with the server instead of measuring what a client arriving on schedule would see.
 */
export class SendSchedule {
  private taken = 0
  private readonly intervalMs: number

  constructor(
    /** Requests per second; 0 or less: flat out, nothing scheduled. */
    requestsPerSecond: number,
    private readonly startedAt: number,
  ) {
    this.intervalMs = requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0
  }

  get paced(): boolean {
    return this.intervalMs > 0
  }

  /** Slots taken so far. */
  get sent(): number {
    return this.taken
  }

  /** The intended send time of slot k. */
  intendedAt(k: number): number {
    return this.startedAt + k * this.intervalMs
  }

  /** Slots due at or before `now` and not taken yet; Infinity flat out. */
  due(now: number): number {
    if (!this.paced) return Number.POSITIVE_INFINITY
    if (now < this.startedAt) return 0
    return Math.max(0, Math.floor((now - this.startedAt) / this.intervalMs) + 1 - this.taken)
  }

  /** Takes the next slot and returns its intended send time (`now` flat out). */
  take(now: number): number {
    const at = this.paced ? this.intendedAt(this.taken) : now
    this.taken++
    return at
  }

  /** Milliseconds from `now` until the next slot is due (0 if it already is); Infinity flat out. */
  msUntilNext(now: number): number {
    if (!this.paced) return Number.POSITIVE_INFINITY
    return Math.max(0, this.intendedAt(this.taken) - now)
  }

  /**
   * Slots due before `endAt` that were never taken: requests the schedule called for but that could not
   * start before the end because every connection was busy. 0 flat out.
   */
  missedBy(endAt: number): number {
    if (!this.paced || endAt <= this.startedAt) return 0
    const dueBeforeEnd = Math.ceil((endAt - this.startedAt) / this.intervalMs)
    return Math.max(0, dueBeforeEnd - this.taken)
  }
}

/** A finished request's two latencies: from its intended start (what a client sees) and from its actual send. */
export function requestLatency(
  intendedAt: number,
  sentAt: number,
  doneAt: number,
): { responseMs: number; serviceMs: number } {
  return { responseMs: doneAt - Math.min(intendedAt, sentAt), serviceMs: doneAt - sentAt }
}
