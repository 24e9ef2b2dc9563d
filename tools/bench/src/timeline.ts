/** One second of the run, as the chart draws it. Every figure is optional: a phase has only some. */
export interface TimelineSample {
  /** Seconds since the start of the run, at the end of the second sampled. */
  t: number
  phase: string
  /** Clicks (or, in (f), distinct video events) acknowledged by ingest in this second. */
  ackedPerSecond?: number
  /** Clicks that became visible in GET /ads/analytics, or rows the worker stored, in this second. */
  storedPerSecond?: number
  /** Request latency percentiles of this second, ms, from the intended send time. */
  p50Ms?: number
  p99Ms?: number
  /** Delivery delay (2xx to visible) of the clicks that became visible in this second, ms. */
  deliveryP99Ms?: number
  /** Acknowledged clicks not yet visible, at the end of this second. */
  backlog?: number
}

export interface PhaseSpan {
  name: string
  /** Seconds since the start of the run. */
  start: number
  end: number
}

export interface Timeline {
  phases: PhaseSpan[]
  samples: TimelineSample[]
}

/**
 * Collects phases and per-second samples over the whole run. A phase lasts until the next one begins or
 * `end()`; samples carry the phase current when they are taken.
 */
export class TimelineRecorder {
  private readonly phases: PhaseSpan[] = []
  private readonly samples: TimelineSample[] = []
  private current: PhaseSpan | undefined
  private readonly startedAt: number

  /** `now` in seconds (performance.now() by default). */
  constructor(private readonly now: () => number = () => performance.now() / 1000) {
    this.startedAt = now()
  }

  private elapsed(): number {
    return this.now() - this.startedAt
  }

  /** Ends the current phase, if any, and begins `name`. */
  phase(name: string): void {
    this.end()
    const t = this.elapsed()
    this.current = { name, start: t, end: t }
    this.phases.push(this.current)
  }

  /** Ends the current phase (the time between phases is drawn unshaded). */
  end(): void {
    if (this.current) this.current.end = this.elapsed()
    this.current = undefined
  }

  sample(values: Omit<TimelineSample, 't' | 'phase'>): void {
    this.samples.push({ t: this.elapsed(), phase: this.current?.name ?? '', ...values })
  }

  get currentPhase(): string | undefined {
    return this.current?.name
  }

  toJSON(): Timeline {
    if (this.current) this.current.end = this.elapsed()
    return { phases: this.phases.map((p) => ({ ...p })), samples: this.samples.map((s) => ({ ...s })) }
  }
}
