import { AnalyticsConfig, parseDuration, redisKeys } from '@adtrack/contracts'
import { createSql, databaseOptions, databaseTls } from '@adtrack/db'
import {
  createLogger,
  loadConfigOrExit,
  Readiness,
  registerRuntimeMetrics,
  routeProcessWarnings,
  startOpsServer,
} from '@adtrack/service-runtime'
import { loadTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { createRedis, redisTls } from '@adtrack/service-runtime/redis'
import { trackingCorsOrigin } from '@adtrack/service-runtime/tracking-cors'
import closeWithGrace from 'close-with-grace'
import { Registry } from 'prom-client'
import { buildApp } from './app.js'
import { analyticsStores } from './stores.js'

// The VAST tags sign with the tracking keys and answer the players' origins: a weak key, a wrong origin or
// a DATABASE_URL TLS setting that cannot work stops the start, naming the variable.
const config = loadConfigOrExit('analytics-api', AnalyticsConfig, process.env, (c) => {
  loadTrackingKeys(c)
  trackingCorsOrigin(c.TRACKING_CORS_ORIGINS)
  databaseTls(c.DATABASE_URL)
  redisTls(c.REDIS_URL, c.REDIS_TLS_CA_FILE)
})

const logger = createLogger('analytics-api', config.LOG_LEVEL)
routeProcessWarnings(logger)
if (loadTrackingKeys(config).development) {
  logger.warn('impression tokens use the public development key (TRACKING_TOKEN_KEYS): anyone can forge them')
}
const registry = new Registry()
registry.setDefaultLabels({ service: 'analytics-api' })
registerRuntimeMetrics(registry)
const sql = createSql(config.DATABASE_URL, databaseOptions(config, 'analytics-api'))
const redis = createRedis(config.REDIS_URL, { caFile: config.REDIS_TLS_CA_FILE })
redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'))

// NOTE: either store can answer reads (Postgres alone while Redis is down), so the service stays ready
// while at least one of them does; restarting it or routing around it would not help.
const readiness = new Readiness({
  stores: async () => {
    const results = await Promise.allSettled([sql`select 1`, redis.ping()])
    if (results.every((r) => r.status === 'rejected')) throw new Error('neither postgres nor redis answers')
  },
})
const app = await buildApp(config, {
  ...analyticsStores(sql, redis, redisKeys(config.REDIS_KEY_PREFIX)),
  registry,
  readiness,
})
const ops = await startOpsServer({ port: config.METRICS_PORT, registry, readiness })
await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST })

closeWithGrace({ delay: parseDuration(config.SHUTDOWN_TIMEOUT) }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  readiness.beginShutdown()
  await app.close()
  await ops.close()
  await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit()])
})
