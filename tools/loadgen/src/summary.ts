// What a load run reports: the summary at the end and the progress each second, and their text form.

export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

export interface LoadSummary {
  url: string
  mode: 'single' | 'batch'
  batchSize: number
  connections: number
  targetRate: number
  seconds: number
  requests: number
  /** Clicks sent for the first time (retries with the same click_id not included). */
  clicksSent: number
  /** Of those, clicks acknowledged (2xx, or "accepted" in a batch reply). */
  clicksAcknowledged: number
  /** clicksAcknowledged per second of the run. */
  clicksPerSecond: number
  requestsPerSecond: number
  /**
   * Request latency, ms, from the request's intended send time to its full reply: with a target rate,
   * a request that had to wait for a free connection counts that wait (no coordinated omission); flat
   * out, the intended time is the actual send, so this equals serviceTimeMs.
   */
  latencyMs: LatencySummary
  /** Request latency, ms, from the actual send to the full reply (the server's service time). */
  serviceTimeMs: LatencySummary
  /**
   * Requests the target rate called for before the end that never started because every connection was
   * busy (0 flat out, or when stopped by --count). Their wait is in no percentile: see it as a shortfall.
   */
  requestsNotSent: number
  /** Requests by HTTP status ("network" for a connection error). */
  statuses: Record<string, number>
  /** Rejected items of batch replies, by "statusCode code". */
  itemErrors: Record<string, number>
  /** Retries (same click_id again) sent. */
  retries: number
  ads: number
}

export interface Progress {
  second: number
  clicksPerSecond: number
  requestsPerSecond: number
  /** Latency percentiles of the requests finished in this second, ms, from their intended send time. */
  p50: number
  p99: number
  /** The same from the actual send (service time). */
  serviceP50: number
  serviceP99: number
  statuses: Record<string, number>
  /** Requests of this second answered other than 2xx or failed on the network, plus refused batch items. */
  errors: number
  acknowledged: number
}

export function formatProgress(p: Progress): string {
  const statuses = Object.entries(p.statuses)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const service =
    p.serviceP99 !== p.p99
      ? ` (service p50 ${p.serviceP50.toFixed(1)} ms p99 ${p.serviceP99.toFixed(1)} ms)`
      : ''
  return `[${String(p.second).padStart(4)}s] ${Math.round(p.clicksPerSecond)} clicks/s  ${Math.round(p.requestsPerSecond)} req/s  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms${service}  errors ${p.errors}  ${statuses || '-'}  acked ${p.acknowledged}`
}

export function formatSummary(s: LoadSummary): string {
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || '-'
  return [
    `target      ${s.url} (${s.mode}${s.mode === 'batch' ? `, ${s.batchSize} clicks per request` : ''}), ${s.connections} connections, ${s.targetRate > 0 ? `${s.targetRate} clicks/s` : 'as fast as possible'}`,
    `duration    ${s.seconds.toFixed(1)} s over ${s.ads} ads`,
    `clicks      ${s.clicksAcknowledged} acknowledged of ${s.clicksSent} sent (${Math.round(s.clicksPerSecond)}/s), ${s.retries} retries`,
    `requests    ${s.requests} (${Math.round(s.requestsPerSecond)}/s)`,
    `latency     ${latencyLine(s.latencyMs)}${s.targetRate > 0 ? ' (from the intended send time)' : ''}`,
    ...(s.targetRate > 0
      ? [
          `service     ${latencyLine(s.serviceTimeMs)} (from the actual send)`,
          `not sent    ${s.requestsNotSent} requests due before the end (every connection busy)`,
        ]
      : []),
    `statuses    ${kv(s.statuses)}`,
    ...(s.mode === 'batch' ? [`item errors ${kv(s.itemErrors)}`] : []),
  ].join('\n')
}

const latencyLine = (l: LatencySummary) =>
  `p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms`
