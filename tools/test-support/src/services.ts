import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  freePort,
  type GatewayServer,
  startGateway,
  startProcess,
  waitUntilReady,
} from '@adtrack/local-stack'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')

export type ServiceName = 'ingest-api' | 'click-worker' | 'analytics-api'

export interface RunningService {
  name: ServiceName
  process: ChildProcess
  httpUrl: string
  metricsUrl: string
  output: () => string
  /** Sends a signal and resolves with the exit code once the process has gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts a built service (apps/<name>/dist/server.js) as its own process and waits for /readyz. */
export async function startService(name: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const entry = join(repoRoot, 'apps', name, 'dist', 'server.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build the workspace first`)
  const httpPort = await freePort()
  const metricsPort = await freePort()
  // Each ingest-api process owns (locks) its spool directory, so each one started here gets its own.
  const spool: Record<string, string> =
    name === 'ingest-api' && !env.SPOOL_DIR
      ? { SPOOL_DIR: await mkdtemp(join(tmpdir(), 'adtrack-spool-')) }
      : {}
  const started = startProcess({
    name,
    command: process.execPath,
    args: [entry],
    env: { HTTP_PORT: String(httpPort), METRICS_PORT: String(metricsPort), ...spool, ...env },
  })
  const metricsUrl = `http://127.0.0.1:${metricsPort}`
  await waitUntilReady(started, `${metricsUrl}/readyz`)
  return {
    name,
    process: started.process,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    metricsUrl,
    output: started.output,
    stop: async (signal) => (await started.stop(signal)).code,
  }
}

/**
 * The local gateway (npm start's nginx with deploy/compose/nginx's template) on `port`, in front of a
 * running ingest-api and analytics-api; `variables` adds to or overrides the template's (Compose's).
 */
export function startGatewayFor(
  services: { ingest: { httpUrl: string }; analytics: { httpUrl: string } },
  opts: { dir: string; port: number; variables?: Record<string, string> },
): Promise<GatewayServer> {
  return startGateway({
    dir: opts.dir,
    variables: {
      ...opts.variables,
      GATEWAY_PORT: String(opts.port),
      INGEST_API_ADDR: new URL(services.ingest.httpUrl).host,
      ANALYTICS_API_ADDR: new URL(services.analytics.httpUrl).host,
    },
    log: () => {},
  })
}
