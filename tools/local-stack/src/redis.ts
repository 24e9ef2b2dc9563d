import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import { type Log, stderrLog } from './log.js'
import { ManagedServer, type ServerSpec } from './managed-server.js'
import { redisArgs, redisTlsUrl, redisUrl } from './redis-config.js'
import { redisPing } from './redis-ping.js'
import { toolPath } from './system-tools.js'
import type { TlsMaterial } from './tls-material.js'
import type { RedisServer } from './types.js'

export interface RedisOptions {
  dataDir: string
  port: number
  /** Append-only file with fsync every second (npm start); off by default (tests). */
  persist?: boolean
  /** Serve TLS too, on this port with this certificate (tls-material.ts). */
  tls?: { port: number; material: TlsMaterial }
  log?: Log
}

class RedisProcess extends ManagedServer implements RedisServer {
  constructor(
    spec: ServerSpec,
    readonly url: string,
    readonly tlsUrl: string | undefined,
  ) {
    super(spec)
  }
}

/** Starts redis-server on 127.0.0.1:port with its files in dataDir. */
export async function startRedis(opts: RedisOptions): Promise<RedisServer> {
  const log = opts.log ?? stderrLog
  await ensureTools(['redis'], log)
  const dataDir = resolve(opts.dataDir)
  await mkdir(dataDir, { recursive: true })
  const { tls } = opts
  const server = new RedisProcess(
    {
      name: 'redis',
      logFile: join(dataDir, 'redis.log'),
      ports: [
        { port: opts.port, purpose: 'port' },
        ...(tls ? [{ port: tls.port, purpose: 'TLS port' }] : []),
      ],
      command: toolPath('redis'),
      args: redisArgs({
        port: opts.port,
        dataDir,
        persist: opts.persist ?? false,
        ...(tls
          ? { tls: { port: tls.port, certFile: tls.material.certFile, keyFile: tls.material.keyFile } }
          : {}),
      }),
      cwd: dataDir,
      isReady: () => redisPing(opts.port),
      // SIGTERM: Redis flushes the append-only file (when on) and exits.
      stopSignal: 'SIGTERM',
      startTimeoutMs: 60_000,
      log,
    },
    redisUrl(opts.port),
    tls ? redisTlsUrl(tls.port) : undefined,
  )
  await server.start()
  return server
}
