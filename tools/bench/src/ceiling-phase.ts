// (a) Ingest ceiling: flat out, single clicks, same connections and duration as the bare server. The
// worker is paused (SIGSTOP) meanwhile so that it does not take CPU from the two being compared.
// The ceiling depends on concurrency: ingest-api answers only once Kafka has acknowledged, so with few
// connections it is bound by that wait (Little's law), with many by CPU. Measured at each count given.
import type { LoadSummary } from '@adtrack/loadgen'
import type { BenchRun, Load } from './bench-run.js'
import type { Service } from './processes.js'
import { fmt } from './report.js'

export type Ceilings = Record<string, { ingest: LoadSummary; bare: LoadSummary }>

export async function measureCeilings(
  run: BenchRun,
  { load, worker, bareUrl }: { load: Load; worker: Service; bareUrl: string },
): Promise<Ceilings> {
  const { say, timeline } = run
  const ceilings: Ceilings = {}
  for (const conns of run.opts.ceilingConnections) {
    say(`(a) ingest ceiling at ${conns} connections: warm-up`)
    worker.process.kill('SIGSTOP')
    let ceiling: LoadSummary
    let bareSummary: LoadSummary
    try {
      timeline.phase(`(a) warm-up ingest-api ${conns} conns`)
      await load({ durationMs: 2000, connections: conns })
      say(`(a) ingest-api POST /ads/click, flat out, ${conns} connections`)
      timeline.phase(`(a) ingest-api ${conns} conns`)
      ceiling = await load({ connections: conns })
      timeline.phase(`(a) warm-up bare Fastify ${conns} conns`)
      await load({ url: bareUrl, durationMs: 2000, connections: conns }, undefined, false)
      say(`(a) bare Fastify POST /ads/click, flat out, ${conns} connections`)
      timeline.phase(`(a) bare Fastify ${conns} conns`)
      bareSummary = await load({ url: bareUrl, connections: conns }, undefined, false)
    } finally {
      timeline.end()
      worker.process.kill('SIGCONT')
    }
    ceilings[conns] = { ingest: ceiling, bare: bareSummary }
    run.rows.push({
      measure: `(a) ingest ceiling, single clicks, ${conns} conns`,
      result: `${fmt.rate(ceiling.clicksPerSecond)}, p50 ${fmt.ms(ceiling.latencyMs.p50)}, p99 ${fmt.ms(ceiling.latencyMs.p99)}`,
      baseline: `bare Fastify ${fmt.rate(bareSummary.clicksPerSecond)}, p50 ${fmt.ms(bareSummary.latencyMs.p50)}, p99 ${fmt.ms(bareSummary.latencyMs.p99)}`,
      ratio: fmt.ratio(ceiling.clicksPerSecond, bareSummary.clicksPerSecond),
      target: '>= 0.5',
      met: ceiling.clicksPerSecond / bareSummary.clicksPerSecond >= 0.5 ? 'yes' : 'no',
    })
  }
  run.results.ingestCeiling = ceilings
  return ceilings
}
