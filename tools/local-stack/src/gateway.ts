import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  GATEWAY_TEMPLATE,
  type GatewayVariables,
  hostResolver,
  nginxMainConfig,
  renderNginxTemplate,
} from './gateway-config.js'
import { ensureTools } from './install-tools.js'
import { type Log, stderrLog } from './log.js'
import { UrlServer } from './managed-server.js'
import { runChecked } from './run-command.js'
import { toolPath } from './system-tools.js'
import type { ManagedProcess } from './types.js'

export interface GatewayOptions {
  /** The rendered configuration, nginx's temporary files, its log and access log go here. */
  dir: string
  /** Compose's gateway environment, or the local stack's own addresses; extra names are ignored by nginx. */
  variables: GatewayVariables & Record<string, string>
  log?: Log
}

export interface GatewayServer extends ManagedProcess {
  /** http://127.0.0.1:GATEWAY_PORT */
  readonly url: string
}

/**
 * The compose gateway (deploy/compose/nginx) as a child process: Debian's nginx, installed with apt-get
 * when missing, running the same template rendered the way the nginx image renders it. Resolves once it
 * answers its health check.
 */
export async function startGateway(opts: GatewayOptions): Promise<GatewayServer> {
  const log = opts.log ?? stderrLog
  await ensureTools(['nginx'], log)
  const nginx = toolPath('nginx')
  const dir = resolve(opts.dir)
  const port = Number(opts.variables.GATEWAY_PORT)
  const mainConfig = join(dir, 'nginx.conf')
  const url = `http://127.0.0.1:${port}`
  const server = new UrlServer(
    {
      name: 'gateway',
      logFile: join(dir, 'nginx.log'),
      ports: [{ port, purpose: 'port' }],
      // Rendered at every start, so that an edited template takes effect on the next `npm start`.
      prepare: async () => {
        await mkdir(join(dir, 'tmp'), { recursive: true })
        const siteConfig = join(dir, 'default.conf')
        const resolver =
          opts.variables.GATEWAY_RESOLVER ??
          hostResolver(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''))
        await writeFile(
          siteConfig,
          renderNginxTemplate(await readFile(GATEWAY_TEMPLATE, 'utf8'), {
            ...opts.variables,
            GATEWAY_RESOLVER: resolver,
          }),
        )
        await writeFile(mainConfig, nginxMainConfig(dir, siteConfig))
        // A broken template fails here with nginx's own message (file and line), not as a start timeout.
        await runChecked(nginx, ['-t', '-q', '-p', dir, '-c', mainConfig])
      },
      command: nginx,
      args: ['-p', dir, '-c', mainConfig],
      cwd: dir,
      isReady: async () => {
        const res = await fetch(`${url}/gateway/healthz`, { signal: AbortSignal.timeout(2_000) })
        await res.body?.cancel()
        return res.ok
      },
      // SIGQUIT: nginx stops accepting, finishes the requests in flight, then exits.
      stopSignal: 'SIGQUIT',
      startTimeoutMs: 20_000,
      log,
    },
    url,
  )
  await server.start()
  return server
}
