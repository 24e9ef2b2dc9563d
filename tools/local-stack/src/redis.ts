import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import { type Log, stderrLog } from './log.js'
import { UrlServer } from './managed-server.js'
import { redisArgs, redisUrl } from './redis-config.js'
import { redisPing } from './redis-ping.js'
import { toolPath } from './system-tools.js'
import type { RedisServer } from './types.js'

export interface RedisOptions {
  dataDir: string
  port: number
  /** Append-only file with fsync every second (npm start); off by default (tests). */
  persist?: boolean
  log?: Log
}

/** Starts redis-server on 127.0.0.1:port with its files in dataDir. */
export async function startRedis(opts: RedisOptions): Promise<RedisServer> {
  const log = opts.log ?? stderrLog
  await ensureTools(['redis'], log)
  const dataDir = resolve(opts.dataDir)
  await mkdir(dataDir, { recursive: true })
  const server = new UrlServer(
    {
      name: 'redis',
      logFile: join(dataDir, 'redis.log'),
      ports: [{ port: opts.port, purpose: 'port' }],
      command: toolPath('redis'),
      args: redisArgs({ port: opts.port, dataDir, persist: opts.persist ?? false }),
      cwd: dataDir,
      isReady: () => redisPing(opts.port),
      // SIGTERM: Redis flushes the append-only file (when on) and exits.
      stopSignal: 'SIGTERM',
      startTimeoutMs: 60_000,
      log,
    },
    redisUrl(opts.port),
  )
  await server.start()
  return server
}
