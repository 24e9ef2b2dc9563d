import { join } from 'node:path'
import { type StartedProcess, startProcess, waitUntilReady } from '@adtrack/local-stack'
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

/** A service started from a build-service.sh output the way the image starts it: node dist/server.js. */
export interface BuiltService extends StartedProcess {
  httpUrl: string
  metricsUrl: string
  env: Record<string, string>
}

export async function startBuiltService(
  name: string,
  dir: string,
  env: Record<string, string>,
): Promise<BuiltService> {
  const started = startProcess({
    name,
    command: process.execPath,
    args: ['dist/server.js'],
    cwd: dir,
    env: { NODE_ENV: 'production', ...env },
  })
  await waitUntilReady(started, `http://127.0.0.1:${env.METRICS_PORT}/readyz`, 90_000)
  return {
    ...started,
    env,
    httpUrl: `http://127.0.0.1:${env.HTTP_PORT}`,
    metricsUrl: `http://127.0.0.1:${env.METRICS_PORT}`,
  }
}
