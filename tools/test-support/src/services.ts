import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@adtrack/local-stack'
import { waitFor } from './helpers.js'

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
  const spool =
    name === 'ingest-api' && !env.SPOOL_DIR
      ? { SPOOL_DIR: await mkdtemp(join(tmpdir(), 'adtrack-spool-')) }
      : {}
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      HTTP_PORT: String(httpPort),
      METRICS_PORT: String(metricsPort),
      ...spool,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const service: RunningService = {
    name,
    process: child,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`)
        const res = await fetch(`${service.metricsUrl}/readyz`)
        return res.status === 200 ? true : undefined
      },
      { timeoutMs: 60_000, what: `${name} to be ready` },
    )
  } catch (err) {
    await service.stop('SIGKILL')
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${output}`)
  }
  return service
}
