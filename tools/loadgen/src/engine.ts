// The open-loop engine every mode shares: requests started on a schedule (or flat out), at most
// `connections` in flight, latency from each request's intended send time, a progress line once a second.
// A mode is a Workload: it says which request goes next and what its reply meant.
import { Histogram } from './histogram.js'
import { requestLatency, SendSchedule } from './schedule.js'
import type { LatencySummary, LoadSummary, Progress } from './summary.js'

/** What one request came to. */
export interface Outcome {
  /** The key it is counted under in the statuses ("202", "pixel 200", "network"...). */
  status: string
  /** False: counted as an error in the progress line. */
  ok: boolean
  /** Items (clicks, pixels) this request had acknowledged for the first time. */
  acknowledged: number
  /** Items the reply refused although the request itself succeeded (a batch's rejected clicks). */
  itemErrors?: number
}

export interface Workload {
  /**
   * The next request, ready to send, or undefined when none is ready now. Calling the returned function
   * sends it; a rejection is a network error.
   */
  next(): (() => Promise<Outcome>) | undefined
  /** Whether anything is left to send; false ends the run once the requests in flight are answered. */
  more(): boolean
  /** The run ended because the workload was used up (its count reached), not by time: no shortfall. */
  usedUp(): boolean
}

export interface EngineOptions {
  /** Requests per second; 0: flat out. */
  requestRate: number
  connections: number
  durationMs: number | undefined
  /** How the progress line names what is acknowledged ("clicks", "pixels"). */
  unit?: string
}

export interface EngineResult {
  seconds: number
  requests: number
  acknowledged: number
  latencyMs: LatencySummary
  serviceTimeMs: LatencySummary
  requestsNotSent: number
  statuses: Record<string, number>
}

/**
 * The figures of a run's summary that come from the engine, the same in every mode (clicksSent is the
 * mode's own count, passed through so the summary's fields keep their order).
 */
export function runFigures(
  r: EngineResult,
  clicksSent: number,
): Pick<
  LoadSummary,
  | 'seconds'
  | 'requests'
  | 'clicksSent'
  | 'clicksAcknowledged'
  | 'clicksPerSecond'
  | 'requestsPerSecond'
  | 'latencyMs'
  | 'serviceTimeMs'
  | 'requestsNotSent'
  | 'statuses'
> {
  return {
    seconds: r.seconds,
    requests: r.requests,
    clicksSent,
    clicksAcknowledged: r.acknowledged,
    clicksPerSecond: r.acknowledged / r.seconds,
    requestsPerSecond: r.requests / r.seconds,
    latencyMs: r.latencyMs,
    serviceTimeMs: r.serviceTimeMs,
    requestsNotSent: r.requestsNotSent,
    statuses: r.statuses,
  }
}

const summarize = (h: Histogram): LatencySummary => ({
  p50: h.percentile(50),
  p90: h.percentile(90),
  p99: h.percentile(99),
  max: h.max,
  mean: h.mean,
})

export const inc = (o: Record<string, number>, k: string, n = 1) => {
  o[k] = (o[k] ?? 0) + n
}

/**
 * Runs `work` until `durationMs` has passed or it has nothing more to send, then waits for the requests in
 * flight. At most `connections` requests are in flight; with a target rate, requests are started on
 * schedule (open loop) as long as a connection is free, and catch up when one frees (the result's rate
 * says whether the target was reached). Latency is measured from each request's intended send time (see
 * SendSchedule), and also from its actual send (service time).
 */
export async function runEngine(
  opts: EngineOptions,
  work: Workload,
  hooks: { onProgress?: (p: Progress) => void; signal?: AbortSignal | undefined } = {},
): Promise<EngineResult> {
  const total = new Histogram()
  const interval = new Histogram()
  const totalService = new Histogram()
  const intervalService = new Histogram()
  const statuses: Record<string, number> = {}
  const intervalStatuses: Record<string, number> = {}
  let requests = 0
  let intervalRequests = 0
  let intervalAcked = 0
  let intervalErrors = 0
  let acknowledged = 0
  let inFlight = 0
  let wake: (() => void) | undefined

  const send = async (request: () => Promise<Outcome>, intendedAt: number, t0: number) => {
    inFlight++
    requests++
    intervalRequests++
    let outcome: Outcome
    try {
      outcome = await request()
    } catch {
      outcome = { status: 'network', ok: false, acknowledged: 0 }
    }
    const { responseMs, serviceMs } = requestLatency(intendedAt, t0, performance.now())
    total.record(responseMs)
    interval.record(responseMs)
    totalService.record(serviceMs)
    intervalService.record(serviceMs)
    acknowledged += outcome.acknowledged
    intervalAcked += outcome.acknowledged
    intervalErrors += (outcome.ok ? 0 : 1) + (outcome.itemErrors ?? 0)
    inc(statuses, outcome.status)
    inc(intervalStatuses, outcome.status)
    inFlight--
    wake?.()
  }

  const started = performance.now()
  const endAt = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : started + opts.durationMs
  const schedule = new SendSchedule(opts.requestRate, started)
  let second = 0
  const ticker = setInterval(() => {
    second++
    const p: Progress = {
      second,
      clicksPerSecond: intervalAcked,
      requestsPerSecond: intervalRequests,
      p50: interval.percentile(50),
      p99: interval.percentile(99),
      serviceP50: intervalService.percentile(50),
      serviceP99: intervalService.percentile(99),
      statuses: { ...intervalStatuses },
      errors: intervalErrors,
      acknowledged,
      ...(opts.unit ? { unit: opts.unit } : {}),
    }
    interval.reset()
    intervalService.reset()
    intervalRequests = 0
    intervalAcked = 0
    intervalErrors = 0
    for (const k of Object.keys(intervalStatuses)) delete intervalStatuses[k]
    hooks.onProgress?.(p)
  }, 1000)
  const running = new Set<Promise<void>>()
  let stoppedAt = started
  const more = () => performance.now() < endAt && !hooks.signal?.aborted && work.more()
  try {
    while (more()) {
      let due = schedule.due(performance.now())
      while (due > 0 && inFlight < opts.connections && more()) {
        const request = work.next()
        if (!request) break
        due--
        const now = performance.now()
        const p = send(request, schedule.take(now), now).finally(() => running.delete(p))
        running.add(p)
      }
      // Sleep until a request completes or the next one is due (1 ms granularity).
      const untilNext = schedule.msUntilNext(performance.now())
      await new Promise<void>((resolve) => {
        const timer = setTimeout(
          resolve,
          inFlight < opts.connections ? Math.min(50, Math.max(1, Math.floor(untilNext))) : 50,
        )
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
    stoppedAt = performance.now()
    await Promise.all(running)
  } finally {
    clearInterval(ticker)
  }
  return {
    seconds: (performance.now() - started) / 1000,
    requests,
    acknowledged,
    latencyMs: summarize(total),
    serviceTimeMs: summarize(totalService),
    requestsNotSent: work.usedUp() ? 0 : schedule.missedBy(Math.min(stoppedAt, endAt)),
    statuses,
  }
}
