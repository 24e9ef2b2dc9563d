import type { ConnectionOptions } from 'node:tls'
import { PemFileError, pemCertificateFile, withCurrentCa } from '@adtrack/db'
import { Redis } from 'ioredis'
import { ConfigError } from './config.js'

/** REDIS_URL as the old system wrote it (`localhost:6379`) or as a URL (`redis://host:port/db`). */
const asUrl = (url: string) => (/^rediss?:\/\//.test(url) ? url : `redis://${url}`)

/**
 * ioredis's `tls` for REDIS_URL and REDIS_TLS_CA_FILE: undefined without a CA file (a rediss:// URL then
 * trusts Node.js's CAs), else the file's CA, read again for each connection (pemCertificateFile).
 * Throws a ConfigError naming the variable for a CA file without rediss://, or one it cannot use.
 */
export function redisTls(url: string, caFile: string): ConnectionOptions | undefined {
  if (caFile === '') return undefined
  if (!asUrl(url).startsWith('rediss://')) {
    throw new ConfigError(['REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss:// (TLS)'])
  }
  try {
    return withCurrentCa({}, pemCertificateFile(caFile, 'REDIS_TLS_CA_FILE'))
  } catch (err) {
    throw err instanceof PemFileError ? new ConfigError([err.message]) : err
  }
}

export function createRedis(
  url: string,
  opts: { lazyConnect?: boolean; failFast?: boolean; caFile?: string } = {},
): Redis {
  const tls = redisTls(url, opts.caFile ?? '')
  return new Redis(asUrl(url), {
    lazyConnect: opts.lazyConnect ?? false,
    // Fail commands fast while disconnected instead of queueing them without bound.
    maxRetriesPerRequest: opts.failFast ? 0 : 2,
    // failFast: a command while disconnected fails at once instead of waiting for the reconnect.
    enableOfflineQueue: !opts.failFast,
    connectTimeout: 3000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
    ...(tls ? { tls } : {}),
  })
}
