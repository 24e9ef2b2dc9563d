import type { RedisKeys } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Redis } from 'ioredis'
import { AdAdminStore } from './ad-admin-store.js'
import { AdStore } from './ad-store.js'
import type { AnalyticsDeps } from './app.js'
import { ClickCounts } from './click-counts.js'
import { PostgresClickCounts } from './postgres-click-counts.js'
import { SystemTraffic } from './system-traffic.js'

/**
 * Every store analytics-api reads and writes, over one PostgreSQL pool and one Redis client: the one
 * place the server and the tests wire them, so that a new store is added once.
 */
export function analyticsStores(
  sql: Sql,
  redis: Redis,
  keys: RedisKeys,
): Pick<AnalyticsDeps, 'ads' | 'adminAds' | 'counts' | 'postgresCounts' | 'traffic'> {
  return {
    ads: new AdStore(sql),
    adminAds: new AdAdminStore(sql),
    counts: new ClickCounts(redis, keys),
    postgresCounts: new PostgresClickCounts(sql),
    traffic: new SystemTraffic(sql),
  }
}
