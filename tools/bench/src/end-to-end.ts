// (b) End to end at one offered rate: the delivery delay from each click's 2xx to its being counted in
// GET /ads/analytics, and what the pipeline kept up with. One step of the rate search.
import { setTimeout as sleep } from 'node:timers/promises'
import { Histogram, type LoadOptions, type LoadSummary, type Progress } from '@adtrack/loadgen'
import { judgeStep, type StepMeasure, type Verdict } from './rate-search.js'
import type { ReadLoad, ReadResults } from './reads.js'
import type { TimelineRecorder } from './timeline.js'

export interface EndToEndDeps {
  /** Runs the load generator against ingest-api with these options on top of the bench's. */
  load: (
    over: Partial<LoadOptions>,
    hooks: { onAck: (ids: string[], at: number) => void; onProgress?: (p: Progress) => void },
  ) => Promise<LoadSummary>
  /** Clicks counted by GET /ads/analytics over every ad (valid and invalid). */
  visibleTotal: () => Promise<number>
  timeline: TimelineRecorder
  /** How long to wait, after the load, for the last acknowledged clicks to become visible (ms). */
  deliveryTimeoutMs?: number
}

export interface EndToEndStep extends StepMeasure, Verdict {
  mode: LoadOptions['mode']
  seconds: number
  /** From the load's start to the last acknowledged item's being visible, s (undefined: not all were). */
  allVisibleAfterSeconds: number | undefined
  delayMs: { p50: number; p99: number; max: number }
  summary: LoadSummary
  reads?: ReadResults
}

export async function measureEndToEnd(
  deps: EndToEndDeps,
  step: {
    mode: LoadOptions['mode']
    rate: number
    durationMs: number
    batchSize: number
    connections: number
    /** Started with the load, stopped when it ends: (d) reads. */
    reads?: () => ReadLoad
  },
): Promise<EndToEndStep> {
  const base = await deps.visibleTotal()
  let ackTimes = new Float64Array(1 << 16)
  let acks = 0
  let visible = 0
  const delay = new Histogram()
  const delayThisSecond = new Histogram()
  const onAck = (ids: string[], at: number) => {
    if (acks + ids.length > ackTimes.length) {
      const bigger = new Float64Array(Math.max(ackTimes.length * 2, acks + ids.length))
      bigger.set(ackTimes)
      ackTimes = bigger
    }
    for (let i = 0; i < ids.length; i++) ackTimes[acks++] = at
  }
  let loading = true
  let pollDeadline = Number.POSITIVE_INFINITY
  let sampledAt = performance.now()
  let sampledVisible = 0
  let firstVisibleAt: number | undefined
  let allVisibleAt: number | undefined
  const sample = (now: number) => {
    deps.timeline.sample({
      storedPerSecond: ((visible - sampledVisible) * 1000) / (now - sampledAt),
      deliveryP99Ms: delayThisSecond.count > 0 ? delayThisSecond.percentile(99) : undefined,
      backlog: acks - visible,
    })
    delayThisSecond.reset()
    sampledAt = now
    sampledVisible = visible
  }
  // NOTE: the k-th acknowledged click counts as visible when the analytics total has grown by k; the
  // poll interval (100 ms) bounds the resolution.
  const poller = (async () => {
    while (loading || visible < acks) {
      try {
        const total = (await deps.visibleTotal()) - base
        const now = performance.now()
        while (visible < Math.min(total, acks)) {
          const ms = now - (ackTimes[visible++] as number)
          delay.record(ms)
          delayThisSecond.record(ms)
        }
        if (visible > 0) firstVisibleAt ??= now
        // The poll that saw the backlog empty; reset while new acknowledgements keep it from staying so.
        if (visible >= acks) allVisibleAt ??= now
        else allVisibleAt = undefined
        if (now - sampledAt >= 1000) sample(now)
      } catch {
        // An analytics reply that failed: the next poll counts what this one missed.
      }
      if (!loading && performance.now() > pollDeadline) break
      await sleep(100)
    }
    // The last, partial second, so that a short step still shows on the chart.
    if (performance.now() - sampledAt >= 100) sample(performance.now())
  })()
  const reads = step.reads?.()
  const loadStartedAt = performance.now()
  const summary = await deps.load(
    {
      mode: step.mode,
      rate: step.rate,
      durationMs: step.durationMs,
      batchSize: step.batchSize,
      connections: step.connections,
    },
    { onAck },
  )
  const visibleDuringLoad = visible
  const loadEndedAt = performance.now()
  const readResults = await reads?.stop()
  pollDeadline = performance.now() + (deps.deliveryTimeoutMs ?? 60_000)
  loading = false
  await poller
  const measure: StepMeasure = {
    rate: step.rate,
    ackedRate: summary.clicksPerSecond,
    visibleRate: visibleRate(visibleDuringLoad, firstVisibleAt, loadEndedAt, summary.seconds),
    acknowledged: acks,
    delivered: visible,
    deliveryP99Ms: delay.percentile(99),
  }
  return {
    mode: step.mode,
    seconds: summary.seconds,
    allVisibleAfterSeconds:
      allVisibleAt === undefined || visible < acks ? undefined : (allVisibleAt - loadStartedAt) / 1000,
    ...measure,
    ...judgeStep(measure),
    delayMs: { p50: delay.percentile(50), p99: delay.percentile(99), max: delay.max },
    summary,
    ...(readResults ? { reads: readResults } : {}),
  }
}

/**
 * Clicks made visible per second while the load ran, counted from the first visible one: clicks become
 * visible a delivery delay after they are sent, and counting from the start would read that delay as a
 * lack of capacity. Over the whole load when too little time is left to count from.
 */
export function visibleRate(
  visible: number,
  firstVisibleAt: number | undefined,
  loadEndedAt: number,
  loadSeconds: number,
): number {
  const span = firstVisibleAt === undefined ? 0 : (loadEndedAt - firstVisibleAt) / 1000
  return span >= Math.min(0.5, loadSeconds / 2) ? visible / span : visible / loadSeconds
}
