import { IngestConfig, parseDuration } from '@adtrack/contracts'
import { databaseTls } from '@adtrack/db'
import {
  createLogger,
  loadConfigOrExit,
  routeProcessWarnings,
  startOpsServer,
} from '@adtrack/service-runtime'
import { loadTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { kafkaSecurity } from '@adtrack/service-runtime/kafka'
import { redisTls } from '@adtrack/service-runtime/redis'
import { trackingCorsOrigin } from '@adtrack/service-runtime/tracking-cors'
import closeWithGrace from 'close-with-grace'
import { createIngest } from './ingest.js'

// A weak tracking key, a wrong CORS origin or Kafka TLS/SASL settings that do not fit together stop the
// start here, naming the variable, rather than in buildApp or on the first connection.
const config = loadConfigOrExit('ingest-api', IngestConfig, process.env, (c) => {
  loadTrackingKeys(c)
  trackingCorsOrigin(c.TRACKING_CORS_ORIGINS)
  kafkaSecurity(c)
  databaseTls(c.DATABASE_URL)
  redisTls(c.REDIS_URL, c.REDIS_TLS_CA_FILE)
})

const logger = createLogger('ingest-api', config.LOG_LEVEL)
routeProcessWarnings(logger)
if (loadTrackingKeys(config).development) {
  logger.warn('impression tokens use the public development key (TRACKING_TOKEN_KEYS): anyone can forge them')
}
const shutdownMs = parseDuration(config.SHUTDOWN_TIMEOUT)

const ingest = await createIngest(config, { logger })
const ops = await startOpsServer({
  port: config.METRICS_PORT,
  registry: ingest.metrics.registry,
  readiness: ingest.readiness,
})
await ingest.app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST })
ingest.app.server.timeout = parseDuration(config.WRITE_TIMEOUT) + parseDuration(config.READ_TIMEOUT)

closeWithGrace({ delay: shutdownMs }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  await ingest.close({ graceMs: shutdownMs })
  await ops.close()
})
