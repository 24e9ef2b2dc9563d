import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { Pool } from 'undici'
import type { LoadOptions } from './args.js'
import { Histogram } from './histogram.js'
import { requestLatency, SendSchedule } from './schedule.js'
import { type Click, Traffic } from './traffic.js'

/** The demo ads of the seed, used when GET /ads does not answer. */
export const DEMO_ADS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']

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

export interface LoadHooks {
  /** Once a second. */
  onProgress?: (p: Progress) => void
  /** Every acknowledged first send of a click, as it is acknowledged (performance.now() time). */
  onAck?: (clickIds: string[], at: number) => void
  signal?: AbortSignal
}

interface Request {
  clicks: Click[]
  body: string
  userAgent: string
  retry: boolean
}

/** Fetches the ids of the active ads from GET /ads; the demo ads if that fails. */
export async function fetchAdIds(pool: Pool, base: string): Promise<string[]> {
  try {
    const res = await pool.request({ method: 'GET', path: `${base}/ads?limit=1000` })
    if (res.statusCode !== 200) {
      await res.body.dump()
      return DEMO_ADS
    }
    const ads = (await res.body.json()) as { id: string; status?: string }[]
    const ids = ads.filter((a) => a.status === undefined || a.status === 'active').map((a) => a.id)
    return ids.length > 0 ? ids : DEMO_ADS
  } catch {
    return DEMO_ADS
  }
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

const summarize = (h: Histogram): LatencySummary => ({
  p50: h.percentile(50),
  p90: h.percentile(90),
  p99: h.percentile(99),
  max: h.max,
  mean: h.mean,
})

const inc = (o: Record<string, number>, k: string, n = 1) => {
  o[k] = (o[k] ?? 0) + n
}

/**
 * Runs the load until `durationMs` has passed or `count` clicks were sent, then waits for the requests in
 * flight. At most `connections` requests are in flight; with a target rate, requests are started on
 * schedule (open loop) as long as a connection is free, and catch up when one frees (the summary's rate
 * says whether the target was reached). Latency is measured from each request's intended send time (see
 * SendSchedule), and also from its actual send (service time).
 */
export async function runLoad(opts: LoadOptions, hooks: LoadHooks = {}): Promise<LoadSummary> {
  const origin = new URL(opts.url).origin
  const base = new URL(opts.url).pathname.replace(/\/$/, '')
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1 })
  const record: WriteStream | undefined = opts.record ? createWriteStream(opts.record) : undefined
  try {
    const ads = opts.ads ?? (await fetchAdIds(pool, base))
    const traffic = new Traffic(ads, opts)
    const perRequest = opts.mode === 'batch' ? opts.batchSize : 1
    const path = `${base}${opts.mode === 'batch' ? '/ads/clicks' : '/ads/click'}`
    const total = new Histogram()
    const interval = new Histogram()
    const totalService = new Histogram()
    const intervalService = new Histogram()
    const statuses: Record<string, number> = {}
    const intervalStatuses: Record<string, number> = {}
    const itemErrors: Record<string, number> = {}
    let requests = 0
    let intervalRequests = 0
    let intervalAcked = 0
    let intervalErrors = 0
    let clicksSent = 0
    let acknowledged = 0
    let retries = 0
    let inFlight = 0
    let wake: (() => void) | undefined
    const retryQueue: Request[] = []

    const build = (): Request => {
      const n = opts.count === undefined ? perRequest : Math.min(perRequest, opts.count - clicksSent)
      const clicks: Click[] = []
      for (let i = 0; i < n; i++) clicks.push(traffic.click())
      clicksSent += n
      const body = opts.mode === 'batch' ? JSON.stringify(clicks) : JSON.stringify(clicks[0])
      return { clicks, body, userAgent: traffic.userAgent(), retry: false }
    }

    const acked = (ids: string[]) => {
      acknowledged += ids.length
      intervalAcked += ids.length
      hooks.onAck?.(ids, performance.now())
      if (record) record.write(`${ids.join('\n')}\n`)
    }

    const send = async (req: Request, intendedAt: number, t0: number) => {
      inFlight++
      requests++
      intervalRequests++
      let status: string
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'user-agent': req.userAgent },
          body: req.body,
        })
        status = String(res.statusCode)
        if (opts.mode === 'batch' && res.statusCode === 200) {
          const reply = (await res.body.json()) as {
            results?: { status: string; statusCode?: number; code?: string }[]
          }
          const ids: string[] = []
          reply.results?.forEach((r, i) => {
            if (r.status === 'accepted') ids.push((req.clicks[i] as Click).click_id)
            else {
              inc(itemErrors, `${r.statusCode} ${r.code}`)
              intervalErrors++
            }
          })
          if (!req.retry && ids.length > 0) acked(ids)
        } else {
          await res.body.dump()
          if (!req.retry && res.statusCode >= 200 && res.statusCode < 300) {
            acked(req.clicks.map((c) => c.click_id))
          }
        }
        if (!req.retry && res.statusCode < 300 && traffic.chance(opts.retryShare)) {
          retryQueue.push({ ...req, retry: true })
        }
      } catch {
        status = 'network'
      }
      const { responseMs, serviceMs } = requestLatency(intendedAt, t0, performance.now())
      total.record(responseMs)
      interval.record(responseMs)
      totalService.record(serviceMs)
      intervalService.record(serviceMs)
      if (!/^2\d\d$/.test(status)) intervalErrors++
      inc(statuses, status)
      inc(intervalStatuses, status)
      inFlight--
      wake?.()
    }

    const started = performance.now()
    const endAt = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : started + opts.durationMs
    const schedule = new SendSchedule(opts.rate > 0 ? opts.rate / perRequest : 0, started)
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
    const more = () =>
      performance.now() < endAt &&
      !hooks.signal?.aborted &&
      (opts.count === undefined || clicksSent < opts.count || retryQueue.length > 0)
    try {
      while (more()) {
        let due = schedule.due(performance.now())
        while (due > 0 && inFlight < opts.connections && more()) {
          const retry = retryQueue.shift()
          let req: Request
          if (retry) {
            retries++
            req = retry
          } else if (opts.count === undefined || clicksSent < opts.count) {
            req = build()
          } else break
          due--
          const now = performance.now()
          const p = send(req, schedule.take(now), now).finally(() => running.delete(p))
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
    const countReached = opts.count !== undefined && clicksSent >= opts.count && retryQueue.length === 0
    const seconds = (performance.now() - started) / 1000
    return {
      url: `${origin}${path}`,
      mode: opts.mode,
      batchSize: perRequest,
      connections: opts.connections,
      targetRate: opts.rate,
      seconds,
      requests,
      clicksSent,
      clicksAcknowledged: acknowledged,
      clicksPerSecond: acknowledged / seconds,
      requestsPerSecond: requests / seconds,
      latencyMs: summarize(total),
      serviceTimeMs: summarize(totalService),
      requestsNotSent: countReached ? 0 : schedule.missedBy(Math.min(stoppedAt, endAt)),
      statuses,
      itemErrors,
      retries,
      ads: ads.length,
    }
  } finally {
    await pool.close()
    if (record) {
      record.end()
      await once(record, 'close')
    }
  }
}
