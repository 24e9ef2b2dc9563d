import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, type StartedProcess, startProcess as start, waitUntilReady } from '@adtrack/local-stack'
import type { BenchRun } from './bench-run.js'

export type Service = StartedProcess

/** Starts `node <entry>` with `env` and waits until `readyUrl` answers 200 (60 s at most). */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
  cwd: string,
  nodeArgs: string[] = [],
): Promise<Service> {
  // A service that ignores SIGTERM must not hang the bench's teardown.
  const service = start({
    name,
    command: process.execPath,
    args: [...nodeArgs, entry],
    env,
    cwd,
    killAfterMs: 15_000,
  })
  await waitUntilReady(service, readyUrl)
  return service
}

/** Peak resident set size of a live process, from /proc/<pid>/status (VmHWM), in MiB. */
export function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/** The click-worker, started once clicks wait on the topic. */
export async function startWorker(run: BenchRun): Promise<Service> {
  const metrics = await freePort()
  const worker = await startProcess(
    'click-worker',
    join(run.root, 'apps/click-worker/dist/server.js'),
    { ...run.serviceEnv, METRICS_PORT: String(metrics) },
    `http://127.0.0.1:${metrics}/readyz`,
    run.root,
    run.opts.profArgs,
  )
  run.services.push(worker)
  return worker
}

/** ingest-api, analytics-api and the bare Fastify server that is ingest-api's baseline; their URLs. */
export async function startApis(
  run: BenchRun,
): Promise<{ ingestUrl: string; analyticsUrl: string; bareUrl: string }> {
  const { root, serviceEnv, opts } = run
  const [ingestPort, ingestMetrics, analyticsPort, analyticsMetrics, barePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const ingest = await startProcess(
    'ingest-api',
    join(root, 'apps/ingest-api/dist/server.js'),
    {
      ...serviceEnv,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(ingestPort),
      METRICS_PORT: String(ingestMetrics),
      SPOOL_DIR: join(run.dataDir, 'spool'),
      // The load comes from one address; the per-IP limit would refuse it.
      RATE_LIMIT_MAX: '0',
    },
    `http://127.0.0.1:${ingestMetrics}/readyz`,
    root,
    opts.profArgs,
  )
  run.services.push(ingest)
  const analytics = await startProcess(
    'analytics-api',
    join(root, 'apps/analytics-api/dist/server.js'),
    {
      ...serviceEnv,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(analyticsPort),
      METRICS_PORT: String(analyticsMetrics),
    },
    `http://127.0.0.1:${analyticsMetrics}/readyz`,
    root,
    opts.profArgs,
  )
  run.services.push(analytics)
  const bare = await startProcess(
    'bare-fastify',
    join(root, 'tools/bench/dist/bare-server.js'),
    { ...opts.nodeEnv, HTTP_PORT: String(barePort) },
    `http://127.0.0.1:${barePort}/livez`,
    root,
  )
  run.services.push(bare)
  return {
    ingestUrl: `http://127.0.0.1:${ingestPort}`,
    analyticsUrl: `http://127.0.0.1:${analyticsPort}`,
    bareUrl: `http://127.0.0.1:${barePort}`,
  }
}
