import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
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

/**
 * The nginx image's template step (docker-entrypoint.d/20-envsubst-on-templates.sh): every ${NAME} or
 * $NAME whose NAME is in the environment is replaced; anything else ($host, $scheme) is left alone.
 */
export function renderNginxTemplate(template: string, env: Record<string, string>): string {
  return template.replaceAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a, b) => {
    const name = (a ?? b) as string
    return name in env ? (env[name] as string) : whole
  })
}

export const gatewayTemplate = join(deployDir, 'compose/nginx/templates/default.conf.template')

/**
 * Runs nginx with the gateway template rendered as the image renders it, inside the same http {} context
 * the image's nginx.conf gives conf.d/*.conf, in a scratch directory.
 */
export async function startGateway(
  nginx: string,
  env: Record<string, string>,
): Promise<Process & { url: string }> {
  const dir = await mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'deploy-checks-nginx-'))
  for (const sub of ['logs', 'tmp']) await mkdir(join(dir, sub))
  await writeFile(
    join(dir, 'default.conf'),
    renderNginxTemplate(await readFile(gatewayTemplate, 'utf8'), env),
  )
  await writeFile(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      // One process, as whoever runs the test; no worker processes to drop privileges to.
      'master_process off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${join(dir, 'tmp/body')};`,
      `  proxy_temp_path ${join(dir, 'tmp/proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'tmp/fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'tmp/uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'tmp/scgi')};`,
      `  include ${join(dir, 'default.conf')};`,
      '}',
      '',
    ].join('\n'),
  )
  const check = await run(nginx, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')])
  if (check.code !== 0) throw new Error(`nginx -t rejects the gateway configuration:\n${check.stderr}`)
  const proc = startProcess(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], { cwd: dir, env: {} })
  const url = `http://127.0.0.1:${env.GATEWAY_PORT}`
  await waitFor(async () => ((await fetch(`${url}/gateway/healthz`)).ok ? true : undefined), {
    what: 'nginx',
    timeoutMs: 20_000,
    intervalMs: 200,
  }).catch(async (err) => {
    await proc.stop('SIGKILL')
    throw new Error(`${(err as Error).message}\n${proc.output()}`)
  })
  return {
    ...proc,
    url,
    async stop(signal = 'SIGQUIT') {
      const result = await proc.stop(signal)
      await rm(dir, { recursive: true, force: true })
      return result
    },
  }
}
