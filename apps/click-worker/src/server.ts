import { deadLetterTopic, parseDuration, redisKeys, WorkerConfig } from '@adtrack/contracts'
import { createSql, databaseOptions, databaseTls } from '@adtrack/db'
import {
  createLogger,
  loadConfigOrExit,
  Readiness,
  routeProcessWarnings,
  startOpsServer,
} from '@adtrack/service-runtime'
import { createKafka, ensureTopic, kafkaSecurity } from '@adtrack/service-runtime/kafka'
import { createRedis, redisTls } from '@adtrack/service-runtime/redis'
import closeWithGrace from 'close-with-grace'
import { buildWorker } from './app.js'
import { createWorkerMetrics } from './metrics.js'
import { ReconcileJob } from './reconcile-job.js'

// Kafka TLS/SASL settings or a DATABASE_URL TLS setting that cannot work stop the start, naming the variable.
const config = loadConfigOrExit('click-worker', WorkerConfig, process.env, (c) => {
  kafkaSecurity(c)
  databaseTls(c.DATABASE_URL)
  redisTls(c.REDIS_URL, c.REDIS_TLS_CA_FILE)
})

const logger = createLogger('click-worker', config.LOG_LEVEL)
routeProcessWarnings(logger)
const metrics = createWorkerMetrics()
const sql = createSql(config.DATABASE_URL, databaseOptions(config, 'click-worker'))
const redis = createRedis(config.REDIS_URL, { caFile: config.REDIS_TLS_CA_FILE })
redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'))
const kafka = createKafka({ connection: config, clientId: config.KAFKA_CLIENT_ID, logger })
const worker = buildWorker(
  { ...config, sessionTimeoutMs: parseDuration(config.KAFKA_SESSION_TIMEOUT) },
  {
    kafka,
    sql,
    redis,
    logger,
    metrics,
    rules: {
      repeatWindowMs: parseDuration(config.REPEAT_CLICK_WINDOW),
      hourlyBudget: config.VIEWER_HOURLY_CLICK_BUDGET,
      filterBots: config.FILTER_BOTS,
    },
  },
)

const readiness = new Readiness({
  kafka: async () => {
    if (!worker.joined) throw new Error('not a member of the consumer group')
  },
  postgres: async () => {
    await sql`select 1`
  },
  redis: async () => {
    await redis.ping()
  },
})
const ops = await startOpsServer({ port: config.METRICS_PORT, registry: metrics.registry, readiness })
// Whichever of ingest-api and click-worker starts first creates the topic; subscribing needs it.
await ensureTopic(kafka, config.KAFKA_TOPIC, {
  partitions: config.KAFKA_TOPIC_PARTITIONS,
  replicationFactor: config.KAFKA_REPLICATION_FACTOR,
})
await ensureTopic(kafka, deadLetterTopic(config.KAFKA_TOPIC), {
  partitions: 1,
  replicationFactor: config.KAFKA_REPLICATION_FACTOR,
})
const reconcileJob = new ReconcileJob(
  { sql, redis, keys: redisKeys(config.REDIS_KEY_PREFIX), topic: config.KAFKA_TOPIC, logger, metrics },
  parseDuration(config.RECONCILE_INTERVAL),
)
await worker.start()
reconcileJob.start()
logger.info({ topic: config.KAFKA_TOPIC, group: config.KAFKA_GROUP_ID }, 'click-worker consuming')

closeWithGrace({ delay: parseDuration(config.SHUTDOWN_TIMEOUT) }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  readiness.beginShutdown()
  await reconcileJob.stop()
  await worker.stop()
  await ops.close()
  await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit()])
})
