import { setTimeout as sleep } from 'node:timers/promises'
import { IngestConfig, parseDuration } from '@adtrack/contracts'
import { createSql } from '@adtrack/db'
import {
  createLogger,
  loadConfigOrExit,
  Readiness,
  routeProcessWarnings,
  startOpsServer,
} from '@adtrack/service-runtime'
import { createKafka, ensureTopic } from '@adtrack/service-runtime/kafka'
import { createRedis } from '@adtrack/service-runtime/redis'
import closeWithGrace from 'close-with-grace'
import { AdCatalog } from './ad-catalog.js'
import { buildApp } from './app.js'
import { ClickProducer } from './click-producer.js'
import { createClickKafkaProducer } from './kafka-gate.js'
import { createRegistry, registerStateGauges } from './metrics.js'
import { Spool } from './spool.js'
import { spoolReadiness } from './spool-readiness.js'

const config = loadConfigOrExit('ingest-api', IngestConfig, process.env)

const logger = createLogger('ingest-api', config.LOG_LEVEL)
routeProcessWarnings(logger)
const writeTimeoutMs = parseDuration(config.WRITE_TIMEOUT)
const shutdownMs = parseDuration(config.SHUTDOWN_TIMEOUT)
const metrics = createRegistry()

// The spool first: what a previous run left in it (clicks already answered 202) is replayed before any
// new click reaches Kafka. Opening it also cuts off a record half-written by a crash.
const spool = await Spool.open({ dir: config.SPOOL_DIR, maxBytes: config.SPOOL_MAX_BYTES })
if (!spool.isEmpty || spool.droppedBytes > 0) {
  logger.info(
    { dir: spool.dir, records: spool.records, bytes: spool.bytes, tornTailBytes: spool.droppedBytes },
    'spool holds clicks from a previous run; replaying them first',
  )
}

const sql = createSql(config.DATABASE_URL, { max: 2, applicationName: 'ingest-api' })
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger })
const kafkaProducer = createClickKafkaProducer({
  brokers: config.KAFKA_BROKERS,
  clientId: config.KAFKA_CLIENT_ID,
  logger,
  maxInFlight: config.PRODUCE_MAX_IN_FLIGHT,
})
const producer = new ClickProducer(kafkaProducer, config.KAFKA_TOPIC, {
  lingerMs: config.PRODUCE_LINGER_MS,
  maxBatch: config.PRODUCE_BATCH_SIZE,
  maxInFlight: config.PRODUCE_MAX_IN_FLIGHT,
  maxQueued: config.MAX_QUEUED_CLICKS,
  retries: config.KAFKA_SEND_RETRIES,
  breakerThreshold: config.KAFKA_BREAKER_THRESHOLD,
  halfOpenAfterMs: parseDuration(config.KAFKA_BREAKER_HALF_OPEN_AFTER),
  spool,
  // Time kept back from a request's deadline to fsync its click to the spool if Kafka has not answered.
  spoolReserveMs: Math.min(1000, Math.floor(writeTimeoutMs / 4)),
  replayTimeoutMs: writeTimeoutMs,
  onError: () => metrics.produceErrors.inc(),
  produceSeconds: metrics.produceSeconds,
  spooledClicks: metrics.spooledClicks,
  replayedClicks: metrics.replayedClicks,
  logger,
})
const catalog = new AdCatalog(sql, parseDuration(config.AD_CATALOG_REFRESH), logger)
registerStateGauges(metrics.registry, catalog, producer, spool)

let kafkaConnected = false
kafkaProducer.on(kafkaProducer.events.CONNECT, () => {
  kafkaConnected = true
})
kafkaProducer.on(kafkaProducer.events.DISCONNECT, () => {
  kafkaConnected = false
})
const readiness = new Readiness({
  kafka: async () => {
    if (!kafkaConnected) throw new Error('producer not connected')
  },
  adCatalog: async () => {
    if (!Number.isFinite(catalog.age)) throw new Error('not loaded yet')
  },
  spool: spoolReadiness(
    producer,
    spool,
    Math.floor((config.SPOOL_MAX_BYTES * config.SPOOL_HIGH_WATER_PERCENT) / 100),
  ),
})

/**
 * Creates the topic if needed and connects the producer, retrying until it works. Kafka being down at
 * start does not stop the service: the spool takes the clicks (and keeps what a previous run left) and
 * the producer's replay loop sends them once this has connected.
 */
async function connectKafka(signal: AbortSignal): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      const created = await ensureTopic(kafka, config.KAFKA_TOPIC, {
        partitions: config.KAFKA_TOPIC_PARTITIONS,
        replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      })
      if (created) {
        logger.info({ topic: config.KAFKA_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS }, 'created topic')
      }
      await kafkaProducer.connect()
      return
    } catch (err) {
      logger.warn({ err, attempt }, 'cannot reach Kafka yet; retrying (clicks go to the spool meanwhile)')
      await sleep(Math.min(250 * 2 ** attempt, 10_000), undefined, { signal }).catch(() => undefined)
    }
  }
}
const stopConnecting = new AbortController()
const connected = connectKafka(stopConnecting.signal)

await catalog.start()
// The rate limit's shared counters. failFast: while Redis is away the limit is skipped at once rather
// than every click waiting on a reconnect.
const rateLimitRedis =
  config.RATE_LIMIT_MAX > 0 ? createRedis(config.REDIS_URL, { failFast: true }) : undefined
rateLimitRedis?.on('error', (err) =>
  logger.warn({ err: err.message }, 'rate-limit redis unavailable; limit skipped'),
)
const app = await buildApp(config, {
  catalog,
  producer,
  registry: metrics.registry,
  readiness,
  refusedClicks: metrics.refusedClicks,
  rateLimitRedis,
})
const ops = await startOpsServer({ port: config.METRICS_PORT, registry: metrics.registry, readiness })
await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST })
app.server.timeout = writeTimeoutMs + parseDuration(config.READ_TIMEOUT)

closeWithGrace({ delay: shutdownMs }, async ({ signal, err }) => {
  const started = performance.now()
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  readiness.beginShutdown()
  stopConnecting.abort()
  // Stop taking requests and let those in flight finish. Each was (or will be) answered 202 only once
  // its click is in Kafka or fsynced in the spool, so nothing acknowledged depends on what follows.
  await app.close()
  // Send what is still queued, then give the replay loop what is left of the grace period (less a
  // margin for the rest of this) to empty the spool into Kafka; whatever it cannot stays on disk for
  // the next start.
  await producer.close({ drainMs: Math.max(0, shutdownMs - (performance.now() - started) - 3000) })
  await spool.close()
  // A connection attempt still under way (Kafka down since start) may take a few seconds to give up.
  await Promise.race([connected, sleep(2000)])
  await kafkaProducer.disconnect()
  catalog.stop()
  await ops.close()
  await sql.end({ timeout: 5 })
  rateLimitRedis?.disconnect()
  if (!spool.isEmpty) {
    logger.warn(
      { dir: spool.dir, records: spool.records, bytes: spool.bytes },
      'stopped with clicks still in the spool; they are replayed when a process starts on this directory',
    )
  }
})
