// (b) End to end: first at the target rate for --seconds (with (d) reads meanwhile, for single clicks),
// then, if that is not sustained, a search down for the highest rate that is. (d) reads' latency during
// (b) single, next to the same reads on an idle ingest path.
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_ADS } from '@adtrack/loadgen'
import { Pool } from 'undici'
import { type BenchRun, type Load, waitForWorker } from './bench-run.js'
import type { Ceilings } from './ceiling-phase.js'
import { type EndToEndStep, measureEndToEnd } from './end-to-end.js'
import { nextRate, SUSTAINED } from './rate-search.js'
import { idleReads, readLoad } from './reads.js'
import { fmt } from './report.js'

interface Search {
  target: number
  steps: EndToEndStep[]
  best: EndToEndStep | undefined
}

export async function measureEndToEndPhase(
  run: BenchRun,
  deps: { load: Load; analyticsUrl: string; ceilings: Ceilings; workerRate: number },
): Promise<void> {
  const { opts } = run
  const analyticsPool = new Pool(deps.analyticsUrl, { connections: 8 })
  const search = rateSearch(run, deps.load, analyticsPool)
  const single = await search('single', opts.e2eRate, true)
  await waitForWorker(run, 'after (b) single')
  const batched = await search('batch', opts.batchRate, false)
  await analyticsPool.close()
  const searchResult = (search: Search) => ({
    target: search.target,
    best: search.best
      ? { rate: search.best.rate, ackedRate: search.best.ackedRate, delayMs: search.best.delayMs }
      : null,
    steps: search.steps,
  })
  run.results.endToEnd = { criteria: SUSTAINED, single: searchResult(single), batched: searchResult(batched) }
  const ceilingAtSameConnections = deps.ceilings[opts.connections]?.ingest.clicksPerSecond
  for (const [label, search, target, baseline] of [
    [
      'single',
      single,
      10_000,
      ceilingAtSameConnections === undefined
        ? undefined
        : { name: `(a) ingest ceiling at ${opts.connections} conns`, rate: ceilingAtSameConnections },
    ],
    [`batch of ${opts.batchSize}`, batched, 50_000, { name: '(c) worker drain', rate: deps.workerRate }],
  ] as const) {
    const r = search.steps[0]
    if (!r) continue
    run.rows.push({
      measure: `(b) end to end, ${label}, offered ${fmt.rate(r.rate)}`,
      result: `${fmt.rate(r.ackedRate)} acked; delivery p50 ${fmt.ms(r.delayMs.p50)}, p99 ${fmt.ms(r.delayMs.p99)}; ${r.delivered}/${r.acknowledged} visible`,
      baseline: `offered ${fmt.rate(r.rate)}`,
      ratio: fmt.ratio(r.ackedRate, r.rate),
      target: `>= ${fmt.rate(target)}, p99 <= 1 s`,
      met:
        r.ackedRate >= target * 0.98 && r.delayMs.p99 <= 1000 && r.delivered === r.acknowledged
          ? 'yes'
          : 'no',
    })
    const best = search.best
    const tried = search.steps.map((s) => `${fmt.rate(s.rate)} ${s.pass ? 'yes' : 'no'}`).join(', ')
    run.rows.push({
      measure: `(b) highest sustained rate, ${label} (all visible within 1 s at p99)`,
      result: best
        ? `${fmt.rate(best.rate)} (${fmt.rate(best.ackedRate)} acked; delivery p50 ${fmt.ms(best.delayMs.p50)}, p99 ${fmt.ms(best.delayMs.p99)}); tried ${tried}`
        : `none of the rates tried: ${tried}`,
      baseline: baseline ? `${baseline.name} ${fmt.rate(baseline.rate)}` : '-',
      ratio: baseline ? fmt.ratio(best?.rate ?? 0, baseline.rate) : '-',
      target: `>= ${fmt.rate(target)}`,
      met: best !== undefined && best.rate >= target ? 'yes' : 'no',
    })
  }
  const reads = single.steps[0]?.reads
  if (reads) {
    for (const [name, h] of Object.entries(reads.byPath)) {
      run.rows.push({
        measure: `(d) ${name} at ${opts.readRate}/s during ingest`,
        result: `p50 ${fmt.ms(h.p50)}, p99 ${fmt.ms(h.p99)} (${h.count} reads, ${h.errors} errors)`,
        baseline: `idle: p50 ${fmt.ms(reads.idle[name]?.p50 ?? 0)}, p99 ${fmt.ms(reads.idle[name]?.p99 ?? 0)}`,
        ratio: '-',
        target: 'p99 <= 5 ms',
        // No reads at all (a step shorter than one read interval) is no evidence either way.
        met: h.count === 0 ? '-' : h.p99 <= 5 && h.errors === 0 ? 'yes' : 'no',
      })
    }
  }
}

/** One mode's run: the target rate, then lower rates while it is not sustained (--search-steps at most). */
function rateSearch(run: BenchRun, load: Load, analyticsPool: Pool) {
  const { opts, say, timeline } = run
  const visibleTotal = async () => {
    const replies = await Promise.all(
      DEMO_ADS.map(async (id) => {
        const res = await analyticsPool.request({ method: 'GET', path: `/ads/analytics?ad_id=${id}` })
        const body = (await res.body.json()) as { click_count?: number; invalid_click_count?: number }
        return (body.click_count ?? 0) + (body.invalid_click_count ?? 0)
      }),
    )
    return replies.reduce((a, b) => a + b, 0)
  }
  const e2eDeps = {
    load: (over: Parameters<Load>[0], hooks: { onAck: (ids: string[], at: number) => void }) =>
      load(over, hooks.onAck),
    visibleTotal,
    timeline,
  }
  return async (mode: 'single' | 'batch', target: number, withReads: boolean): Promise<Search> => {
    const label = mode === 'single' ? 'single' : `batches of ${opts.batchSize}`
    const steps: EndToEndStep[] = []
    let rate: number | undefined = target
    while (rate !== undefined && steps.length <= opts.searchSteps && !run.signal.aborted) {
      const first = steps.length === 0
      if (!first) {
        // The worker catches up with the failed step before the next one, and the machine settles. A
        // worker that cannot catch up would make every later step fail for a reason of its own.
        if (!(await waitForWorker(run, `before (b) ${label} at ${rate}/s`))) {
          say(`(b) ${label}: rate search stopped, the worker did not catch up`)
          break
        }
        await sleep(1000)
      }
      const reads = first && withReads
      // (d)'s baseline, before the load starts: the same reads, one at a time, on an idle ingest path.
      if (reads) timeline.phase('(d) idle baseline reads')
      const idle = reads ? await idleReads(analyticsPool) : {}
      say(
        `(b) end to end, ${label} at ${rate} clicks/s${reads ? `, (d) reads at ${opts.readRate}/s each meanwhile` : ''}${first ? '' : ' (rate search)'}`,
      )
      timeline.phase(
        `(b) ${label} at ${fmt.rate(rate)}${reads ? ' + (d) reads' : ''}${first ? '' : ' (search)'}`,
      )
      const step = await measureEndToEnd(e2eDeps, {
        mode,
        rate,
        durationMs: (first ? opts.seconds : opts.searchSeconds) * 1000,
        batchSize: opts.batchSize,
        connections: mode === 'batch' ? Math.min(opts.connections, 16) : opts.connections,
        reads: reads ? () => readLoad(analyticsPool, opts.readRate, idle) : undefined,
      })
      timeline.end()
      say(
        `(b) ${label} at ${rate}/s: ${Math.round(step.ackedRate)}/s acked, delivery p50 ${fmt.ms(step.delayMs.p50)} p99 ${fmt.ms(step.delayMs.p99)}, ${step.delivered}/${step.acknowledged} visible: ${step.pass ? 'sustained' : `not sustained (${step.reasons.join('; ')})`}`,
      )
      steps.push(step)
      rate = nextRate(steps, { minRate: mode === 'batch' ? opts.batchSize : 1 })
    }
    const best = steps.filter((s) => s.pass).sort((x, y) => y.rate - x.rate)[0]
    return { target, steps, best }
  }
}
