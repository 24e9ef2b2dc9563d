import { Redis } from 'ioredis'

/** REDIS_URL as the old system wrote it (`localhost:6379`) or as a URL (`redis://host:port/db`). */
export function createRedis(url: string, opts: { lazyConnect?: boolean; failFast?: boolean } = {}): Redis {
  const normalised = /^rediss?:\/\//.test(url) ? url : `redis://${url}`
  return new Redis(normalised, {
    lazyConnect: opts.lazyConnect ?? false,
    // Fail commands fast while disconnected instead of queueing them without bound.
    maxRetriesPerRequest: opts.failFast ? 0 : 2,
    // failFast: a command while disconnected fails at once instead of waiting for the reconnect.
    enableOfflineQueue: !opts.failFast,
    connectTimeout: 3000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
  })
}
