import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { waitFor } from '@adtrack/test-support'
import { deployDir } from './paths.js'
import { run } from './run.js'

/** deploy/build-service.sh all <app> <out>: the image's build steps, without Docker. */
export async function buildService(app: string, out: string): Promise<{ seconds: number; output: string }> {
  const started = Date.now()
  const result = await run('sh', [join(deployDir, 'build-service.sh'), 'all', app, out], {
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    timeoutMs: 10 * 60_000,
  })
  const output = `${result.stdout}\n${result.stderr}`
  if (result.code !== 0)
    throw new Error(`build-service.sh all ${app} exited with ${result.code}:\n${output.slice(-6000)}`)
  return { seconds: (Date.now() - started) / 1000, output }
}

export interface Process {
  child: ChildProcess
  output: () => string
  /** Sends the signal and resolves with the exit code and how long the process took to go. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; seconds: number }>
}

/** Starts a command with exactly the given environment (plus PATH), collecting its output. */
export function startProcess(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
): Process {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-50_000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  return {
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      const started = Date.now()
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const [code, sig] = await exited
      return { code, signal: sig, seconds: (Date.now() - started) / 1000 }
    },
  }
}

/** A service started from a build-service.sh output the way the image starts it: node dist/server.js. */
export interface BuiltService extends Process {
  name: string
  httpUrl: string
  metricsUrl: string
  env: Record<string, string>
}

export async function startBuiltService(
  name: string,
  dir: string,
  env: Record<string, string>,
): Promise<BuiltService> {
  const proc = startProcess(process.execPath, ['dist/server.js'], {
    cwd: dir,
    env: { NODE_ENV: 'production', ...env },
  })
  const service: BuiltService = {
    ...proc,
    name,
    env,
    httpUrl: `http://127.0.0.1:${env.HTTP_PORT}`,
    metricsUrl: `http://127.0.0.1:${env.METRICS_PORT}`,
  }
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`${name} exited with ${proc.child.exitCode}`)
        const res = await fetch(`${service.metricsUrl}/readyz`)
        return res.status === 200 ? true : undefined
      },
      { what: `${name} to be ready`, timeoutMs: 90_000, intervalMs: 200 },
    )
  } catch (err) {
    await proc.stop('SIGKILL')
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${proc.output()}`)
  }
  return service
}
