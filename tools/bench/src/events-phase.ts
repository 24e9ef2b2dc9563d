// (f) Video events: a VAST player's tracking pixels (the load generator's --mode vast, tokens minted with
// the services' keys), flat out. First the pixel ceiling: GET /track/:ad_id/:event on ingest-api, which
// answers only once Kafka holds the event, next to the bare Fastify GET answering the same GIF with no
// work, same connections and duration, the worker paused as in (a). Then end to end with the worker
// running: every acknowledged (impression, event) until the worker has stored it in PostgreSQL (a row of
// ad_events, or of clicks for a click-through; Redis's counters are written in the same batch).

import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_MIX, type LoadSummary } from '@adtrack/loadgen'
import { type BenchRun, countEvents, type Load, waitForWorker, workerRateSampler } from './bench-run.js'
import { type EndToEndStep, measureEndToEnd } from './end-to-end.js'
import type { Service } from './processes.js'
import { fmt } from './report.js'

export interface EventsResults {
  ceiling: {
    ingest: LoadSummary
    bare: LoadSummary
    ingestPerSecond: number
    barePerSecond: number
    /** Every event the ceiling had acknowledged was then stored by the worker. */
    stored: boolean
  }
  endToEnd: EndToEndStep & { eventsPerSecond: number | undefined }
}

/** Pixels and click-throughs answered as they should be (GIF, 302), per second of the run. */
export function answeredPerSecond(s: LoadSummary): number {
  let n = 0
  for (const [status, count] of Object.entries(s.statuses))
    if (/^pixel 2\d\d$/.test(status) || status === 'clickthrough 302') n += count
  return n / s.seconds
}

export async function measureEvents(
  run: BenchRun,
  { load, worker, bareUrl }: { load: Load; worker: Service; bareUrl: string },
): Promise<EventsResults> {
  const { opts, say, timeline } = run
  const conns = opts.connections
  const durationMs = opts.eventsSeconds * 1000
  // What reaches Kafka is counted as it is acknowledged, for the worker's catch-up to be checked against.
  const counted = (ids: string[]) => {
    run.acknowledged.events += ids.length
    for (const id of ids) if (id.endsWith(':click')) run.acknowledged.total++
  }
  const vast = (url: string | undefined, ms: number) => ({
    mode: 'vast' as const,
    ...(url ? { url } : {}),
    durationMs: ms,
    connections: conns,
    botShare: 0.02,
    retryShare: DEFAULT_MIX.repeatShare,
    trackingKeys: run.trackingKeys,
  })

  say(`(f) pixel ceiling at ${conns} connections: warm-up`)
  worker.process.kill('SIGSTOP')
  let ingest: LoadSummary
  let bare: LoadSummary
  try {
    timeline.phase(`(f) warm-up ingest-api pixels ${conns} conns`)
    await load(vast(undefined, 1000), counted, false)
    say(`(f) ingest-api GET /track/:ad_id/:event, flat out, ${conns} connections`)
    timeline.phase(`(f) ingest-api pixels ${conns} conns`)
    ingest = await load(vast(undefined, durationMs), counted, false)
    timeline.phase(`(f) warm-up bare Fastify GET ${conns} conns`)
    await load(vast(bareUrl, 1000), undefined, false)
    say(`(f) bare Fastify GET /track/:ad_id/:event, flat out, ${conns} connections`)
    timeline.phase(`(f) bare Fastify GET ${conns} conns`)
    bare = await load(vast(bareUrl, durationMs), undefined, false)
  } finally {
    timeline.end()
    worker.process.kill('SIGCONT')
  }
  const ingestPerSecond = answeredPerSecond(ingest)
  const barePerSecond = answeredPerSecond(bare)

  say('(f) waiting for the worker to store the pixels so far')
  const stored = await waitForEvents(run)
  await waitForWorker(run, 'after (f) ceiling')
  say(`(f) events end to end, flat out, ${conns} connections`)
  timeline.phase(`(f) events end to end ${conns} conns`)
  const step = await measureEndToEnd(
    {
      load: (over, hooks) =>
        load(
          { ...vast(undefined, durationMs), ...over },
          (ids, at) => {
            counted(ids)
            hooks.onAck(ids, at)
          },
          false,
        ),
      visibleTotal: () => countEvents(run),
      timeline,
    },
    { mode: 'vast', rate: 0, durationMs, batchSize: 1, connections: conns },
  )
  timeline.end()
  const eventsPerSecond =
    step.allVisibleAfterSeconds === undefined ? undefined : step.delivered / step.allVisibleAfterSeconds
  say(
    `(f) end to end: ${step.delivered}/${step.acknowledged} visible${eventsPerSecond === undefined ? '' : `, ${Math.round(eventsPerSecond)} events/s`}`,
  )

  const results: EventsResults = {
    ceiling: { ingest, bare, ingestPerSecond, barePerSecond, stored },
    endToEnd: { ...step, eventsPerSecond },
  }
  run.results.events = results
  run.rows.push(
    {
      measure: `(f) pixel GET ceiling, ${conns} conns`,
      result: `${fmt.rate(ingestPerSecond)}, p50 ${fmt.ms(ingest.latencyMs.p50)}, p99 ${fmt.ms(ingest.latencyMs.p99)}`,
      baseline: `bare Fastify GET ${fmt.rate(barePerSecond)}, p50 ${fmt.ms(bare.latencyMs.p50)}, p99 ${fmt.ms(bare.latencyMs.p99)}`,
      ratio: fmt.ratio(ingestPerSecond, barePerSecond),
      target: '-',
      met: '-',
    },
    {
      measure: `(f) events end to end, flat out, ${conns} conns (acknowledged until stored)`,
      result: `${eventsPerSecond === undefined ? 'not all stored' : `${fmt.rate(eventsPerSecond)} stored`} (${fmt.rate(step.ackedRate)} acked; delivery p50 ${fmt.ms(step.delayMs.p50)}, p99 ${fmt.ms(step.delayMs.p99)}); ${step.delivered}/${step.acknowledged} visible`,
      baseline: `(f) pixel ceiling ${fmt.rate(ingestPerSecond)}`,
      ratio: eventsPerSecond === undefined ? '-' : fmt.ratio(eventsPerSecond, ingestPerSecond),
      target: 'every acknowledged event stored',
      met: step.acknowledged > 0 && step.delivered === step.acknowledged ? 'yes' : 'no',
    },
  )
  return results
}

/** Waits (180 s at most) until the worker has stored every acknowledged event; false if it has not. */
async function waitForEvents(run: BenchRun): Promise<boolean> {
  const until = performance.now() + 180_000
  let n = await countEvents(run)
  if (n >= run.acknowledged.events) return true
  run.timeline.phase('(f) worker catch-up')
  const sample = workerRateSampler(run, n)
  try {
    while (performance.now() < until && !run.signal.aborted) {
      await sleep(250)
      n = await countEvents(run)
      sample(n)
      if (n >= run.acknowledged.events) return true
    }
  } finally {
    run.timeline.end()
  }
  run.say(`(f): the worker had not stored every event after 180 s (${n} of ${run.acknowledged.events})`)
  return false
}
