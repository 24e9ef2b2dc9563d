import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { Pool } from 'undici'
import type { LoadOptions } from './args.js'
import { Histogram } from './histogram.js'
import { requestLatency, SendSchedule } from './schedule.js'
import type { LatencySummary, LoadSummary, Progress } from './summary.js'
import { type Click, Traffic } from './traffic.js'

/** The demo ads of the seed, used when GET /ads does not answer. */
export const DEMO_ADS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']

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
