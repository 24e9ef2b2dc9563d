// (e) Peak RSS of each process over the whole run, next to the bare Fastify server's.
import type { BenchRun } from './bench-run.js'
import { peakRssMiB } from './processes.js'
import { fmt } from './report.js'

export function measurePeakRss(run: BenchRun): void {
  const rss: Record<string, number | undefined> = {}
  for (const s of run.services) rss[s.name] = peakRssMiB(s.process.pid)
  run.results.peakRssMiB = rss
  for (const name of ['ingest-api', 'click-worker', 'analytics-api'] as const) {
    run.rows.push({
      measure: `(e) peak RSS ${name}`,
      result: fmt.mib(rss[name]),
      baseline: `bare Fastify ${fmt.mib(rss['bare-fastify'])}`,
      ratio: '-',
      target: '< 150 MB',
      met: rss[name] !== undefined && (rss[name] as number) * 1.048576 < 150 ? 'yes' : 'no',
    })
  }
}
