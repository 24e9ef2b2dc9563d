// (d) reads during ingest: GET /ads/analytics and GET /ads/top at a fixed rate, after an idle baseline.
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_ADS, Histogram } from '@adtrack/loadgen'
import type { Pool } from 'undici'

export interface ReadStats {
  p50: number
  p99: number
  count: number
  errors: number
}

export interface ReadResults {
  byPath: Record<string, ReadStats>
  idle: Record<string, ReadStats>
}

export interface ReadLoad {
  stop(): Promise<ReadResults>
}

const PATHS: Record<string, () => string> = {
  'GET /ads/analytics': () => `/ads/analytics?ad_id=${DEMO_ADS[Math.floor(Math.random() * DEMO_ADS.length)]}`,
  'GET /ads/top': () => '/ads/top?window=5m&limit=10',
}

/** One read, its latency recorded in `h` (from the call, so a wait for a pooled connection counts); true if 200. */
async function read(pool: Pool, path: string, h: Histogram): Promise<boolean> {
  const t0 = performance.now()
  let ok = false
  try {
    const res = await pool.request({ method: 'GET', path })
    await res.body.dump()
    ok = res.statusCode === 200
  } catch {
    // counted as an error
  }
  h.record(performance.now() - t0)
  return ok
}

const stats = (h: Histogram, errors: number): ReadStats => ({
  p50: h.percentile(50),
  p99: h.percentile(99),
  count: h.count,
  errors,
})

/** The baseline: 200 sequential reads of each route, to be taken while ingest is idle. */
export async function idleReads(pool: Pool): Promise<Record<string, ReadStats>> {
  const idle: Record<string, ReadStats> = {}
  for (const [name, path] of Object.entries(PATHS)) {
    const h = new Histogram()
    let errors = 0
    for (let i = 0; i < 200; i++) if (!(await read(pool, path(), h))) errors++
    idle[name] = stats(h, errors)
  }
  return idle
}

/** GET /ads/analytics and GET /ads/top, each at `rate` per second, until stop(); `idle` is the baseline. */
export function readLoad(pool: Pool, rate: number, idle: Record<string, ReadStats>): ReadLoad {
  const hist: Record<string, Histogram> = {}
  const errors: Record<string, number> = {}
  for (const name of Object.keys(PATHS)) {
    hist[name] = new Histogram()
    errors[name] = 0
  }
  let running = true
  const inFlight = new Set<Promise<void>>()
  const loop = (async () => {
    const started = performance.now()
    let issued = 0
    while (running) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - issued
      for (let i = 0; i < due; i++) {
        for (const [name, path] of Object.entries(PATHS)) {
          const p = read(pool, path(), hist[name] as Histogram)
            .then((ok) => {
              if (!ok) errors[name] = (errors[name] ?? 0) + 1
            })
            .finally(() => inFlight.delete(p))
          inFlight.add(p)
        }
        issued++
      }
      await sleep(2)
    }
    await Promise.all(inFlight)
  })()
  return {
    async stop() {
      running = false
      await loop
      const byPath: Record<string, ReadStats> = {}
      for (const [name, h] of Object.entries(hist)) byPath[name] = stats(h, errors[name] ?? 0)
      return { byPath, idle }
    },
  }
}
