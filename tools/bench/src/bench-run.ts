// What every phase of the bench shares: the options, the timeline, the database, the processes to stop at
// the end, the table being built, and the running count of acknowledged clicks the worker must catch up to.
import { setTimeout as sleep } from 'node:timers/promises'
import type { createSql } from '@adtrack/db'
import { DEMO_ADS, type LoadSummary, loadDefaults, type Progress, runLoad } from '@adtrack/loadgen'
import type { BenchOptions } from './options.js'
import type { Service } from './processes.js'
import type { Row } from './report.js'
import type { TimelineRecorder } from './timeline.js'

export const TOPIC = 'ad-clicks'

export interface BenchRun {
  opts: BenchOptions
  root: string
  dataDir: string
  say: (msg: string) => void
  /** Aborted by SIGINT or SIGTERM: every loop and load stops early, and the processes still stop. */
  signal: AbortSignal
  timeline: TimelineRecorder
  db: ReturnType<typeof createSql>
  /** The three services' environment: the stack's addresses and the Node options under test. */
  serviceEnv: Record<string, string>
  /** TRACKING_TOKEN_KEYS of this run's services, with which the load generator mints impressions. */
  trackingKeys: string
  /** Every process started, stopped in reverse order when the run ends. */
  services: Service[]
  rows: Row[]
  results: Record<string, unknown>
  /**
   * Every acknowledged click of every phase (click-throughs included), and every acknowledged (impression,
   * event) pair (click-throughs included too), so that the worker's progress can be checked against them.
   */
  acknowledged: { total: number; events: number }
}

/** Runs the load generator: these options on top of the bench's, progress printed and charted. */
export type Load = (
  over: Partial<Parameters<typeof loadDefaults>[0]>,
  onAck?: (ids: string[], at: number) => void,
  clicksReachKafka?: boolean,
) => Promise<LoadSummary>

export function loadAgainst(run: BenchRun, ingestUrl: string): Load {
  const { opts, say, timeline } = run
  return (over, onAck, clicksReachKafka = true) =>
    runLoad(
      loadDefaults({
        url: ingestUrl,
        connections: opts.connections,
        ads: DEMO_ADS,
        retryShare: 0,
        durationMs: opts.seconds * 1000,
        ...over,
      }),
      {
        signal: run.signal,
        onAck: (ids, at) => {
          if (clicksReachKafka) run.acknowledged.total += ids.length
          onAck?.(ids, at)
        },
        onProgress: (p: Progress) => {
          say(
            `  ${p.second}s ${Math.round(p.clicksPerSecond)} ${p.unit ?? 'clicks'}/s p50 ${p.p50.toFixed(1)} ms p99 ${p.p99.toFixed(1)} ms errors ${p.errors} ${JSON.stringify(p.statuses)}`,
          )
          timeline.sample({
            ackedPerSecond: p.clicksPerSecond,
            ...(p.requestsPerSecond > 0 ? { p50Ms: p.p50, p99Ms: p.p99 } : {}),
          })
        },
      },
    )
}

export async function countClicks(run: BenchRun): Promise<number> {
  return Number((await run.db`select count(*)::int as n from clicks`)[0]?.n ?? 0)
}

/** Rows the worker stored for impressions: events, and clicks through an impression (clicks as well). */
export async function countEvents(run: BenchRun): Promise<number> {
  const [row] = await run.db`
    select (select count(*) from ad_events)::int + (select count(*) from clicks where impression_id is not null)::int as n`
  return Number(row?.n ?? 0)
}

/** Samples the worker's rows per second for the chart, at most once a second. */
export function workerRateSampler(run: BenchRun, from: number): (n: number) => void {
  let at = performance.now()
  let rows = from
  return (n: number) => {
    const now = performance.now()
    if (now - at < 1000) return
    run.timeline.sample({ storedPerSecond: ((n - rows) * 1000) / (now - at) })
    at = now
    rows = n
  }
}

/** Waits (180 s at most) until the worker has stored every acknowledged click; false if it has not. */
export async function waitForWorker(run: BenchRun, what: string): Promise<boolean> {
  const until = performance.now() + 180_000
  let n = await countClicks(run)
  if (n >= run.acknowledged.total) return true
  run.timeline.phase('worker catch-up')
  const sample = workerRateSampler(run, n)
  try {
    while (performance.now() < until && !run.signal.aborted) {
      await sleep(500)
      n = await countClicks(run)
      sample(n)
      if (n >= run.acknowledged.total) return true
    }
  } finally {
    run.timeline.end()
  }
  run.say(`${what}: the worker had not caught up after 180 s`)
  return false
}
