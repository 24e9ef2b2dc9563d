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
  return (await startService(run, 'click-worker')).service
}

/** ingest-api, analytics-api and the bare Fastify server that is ingest-api's baseline; their URLs. */
export async function startApis(
  run: BenchRun,
): Promise<{ ingestUrl: string; analyticsUrl: string; bareUrl: string }> {
  const ingest = await startService(run, 'ingest-api', {
    SPOOL_DIR: join(run.dataDir, 'spool'),
    // The load comes from one address; the per-IP limit would refuse it.
    RATE_LIMIT_MAX: '0',
  })
  const analytics = await startService(run, 'analytics-api')
  const barePort = await freePort()
  const bare = await startProcess(
    'bare-fastify',
    join(run.root, 'tools/bench/dist/bare-server.js'),
    { ...run.opts.nodeEnv, HTTP_PORT: String(barePort) },
    `http://127.0.0.1:${barePort}/livez`,
    run.root,
  )
  run.services.push(bare)
  return { ingestUrl: ingest.url, analyticsUrl: analytics.url, bareUrl: `http://127.0.0.1:${barePort}` }
}

/** apps/<name>/dist/server.js on free ports with the stack's environment and `env`; its public URL. */
async function startService(
  run: BenchRun,
  name: 'ingest-api' | 'click-worker' | 'analytics-api',
  env: Record<string, string> = {},
): Promise<{ service: Service; url: string }> {
  const [httpPort, metricsPort] = [await freePort(), await freePort()]
  // The worker serves no public API: only its metrics port.
  const http: Record<string, string> =
    name === 'click-worker' ? {} : { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort) }
  const service = await startProcess(
    name,
    join(run.root, 'apps', name, 'dist/server.js'),
    { ...run.serviceEnv, ...http, METRICS_PORT: String(metricsPort), ...env },
    `http://127.0.0.1:${metricsPort}/readyz`,
    run.root,
    run.opts.profArgs,
  )
  run.services.push(service)
  return { service, url: `http://127.0.0.1:${httpPort}` }
}
