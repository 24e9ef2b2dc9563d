import { Pool } from 'undici'
import { fetchAdIds, withRecord } from './ads.js'
import type { LoadOptions } from './args.js'
import { inc, type Outcome, runEngine, runFigures, type Workload } from './engine.js'
import type { LoadSummary, Progress } from './summary.js'
import { type Click, Traffic } from './traffic.js'
import { runVast } from './vast-load.js'

export interface LoadHooks {
  /** Once a second. */
  onProgress?: (p: Progress) => void
  /**
   * Every acknowledged first send, as it is acknowledged (performance.now() time): click ids, or in vast
   * mode `<impression id>:<event>` for each (impression, event) acknowledged for the first time.
   */
  onAck?: (ids: string[], at: number) => void
  signal?: AbortSignal
}

interface Request {
  clicks: Click[]
  body: string
  userAgent: string
  retry: boolean
}

/**
 * Runs the load until `durationMs` has passed or `count` clicks (vast mode: impressions) were sent, then
 * waits for the requests in flight. See runEngine for the schedule and how latency is measured.
 */
export async function runLoad(opts: LoadOptions, hooks: LoadHooks = {}): Promise<LoadSummary> {
  if (opts.mode === 'vast') return runVast(opts, hooks)
  const origin = new URL(opts.url).origin
  const base = new URL(opts.url).pathname.replace(/\/$/, '')
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1 })
  try {
    return await withRecord(opts.record, async (record) => {
      const ads = opts.ads ?? (await fetchAdIds(pool, base))
      const traffic = new Traffic(ads, opts)
      const perRequest = opts.mode === 'batch' ? opts.batchSize : 1
      const path = `${base}${opts.mode === 'batch' ? '/ads/clicks' : '/ads/click'}`
      const itemErrors: Record<string, number> = {}
      let clicksSent = 0
      let retries = 0
      const retryQueue: Request[] = []

      const build = (): Request => {
        const n = opts.count === undefined ? perRequest : Math.min(perRequest, opts.count - clicksSent)
        const clicks: Click[] = []
        for (let i = 0; i < n; i++) clicks.push(traffic.click())
        clicksSent += n
        const body = opts.mode === 'batch' ? JSON.stringify(clicks) : JSON.stringify(clicks[0])
        return { clicks, body, userAgent: traffic.userAgent(), retry: false }
      }

      const acked = (ids: string[]): number => {
        hooks.onAck?.(ids, performance.now())
        if (record) record.write(`${ids.join('\n')}\n`)
        return ids.length
      }

      const send = async (req: Request): Promise<Outcome> => {
        const res = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'user-agent': req.userAgent },
          body: req.body,
        })
        const status = String(res.statusCode)
        let acknowledged = 0
        let refused = 0
        if (opts.mode === 'batch' && res.statusCode === 200) {
          const reply = (await res.body.json()) as {
            results?: { status: string; statusCode?: number; code?: string }[]
          }
          const ids: string[] = []
          reply.results?.forEach((r, i) => {
            if (r.status === 'accepted') ids.push((req.clicks[i] as Click).click_id)
            else {
              inc(itemErrors, `${r.statusCode} ${r.code}`)
              refused++
            }
          })
          if (!req.retry && ids.length > 0) acknowledged = acked(ids)
        } else {
          await res.body.dump()
          if (!req.retry && res.statusCode >= 200 && res.statusCode < 300) {
            acknowledged = acked(req.clicks.map((c) => c.click_id))
          }
        }
        if (!req.retry && res.statusCode < 300 && traffic.chance(opts.retryShare)) {
          retryQueue.push({ ...req, retry: true })
        }
        return { status, ok: /^2\d\d$/.test(status), acknowledged, itemErrors: refused }
      }

      const countLeft = () => opts.count === undefined || clicksSent < opts.count
      const clicks: Workload = {
        next() {
          const retry = retryQueue.shift()
          if (retry) {
            retries++
            return () => send(retry)
          }
          if (!countLeft()) return undefined
          const req = build()
          return () => send(req)
        },
        more: () => countLeft() || retryQueue.length > 0,
        usedUp: () => !countLeft() && retryQueue.length === 0,
      }
      const r = await runEngine(
        {
          requestRate: opts.rate > 0 ? opts.rate / perRequest : 0,
          connections: opts.connections,
          durationMs: opts.durationMs,
        },
        clicks,
        hooks,
      )
      return {
        url: `${origin}${path}`,
        mode: opts.mode,
        batchSize: perRequest,
        connections: opts.connections,
        targetRate: opts.rate,
        ...runFigures(r, clicksSent),
        itemErrors,
        retries,
        ads: ads.length,
      }
    })
  } finally {
    await pool.close()
  }
}
