import { type IngestConfig, parseDuration } from '@adtrack/contracts'
import { createSql, databaseOptions, type Sql } from '@adtrack/db'
import { createLogger, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import type { Logger } from 'pino'
import { AdCatalog } from './ad-catalog.js'
import { buildApp } from './app.js'
import { ClickProducer, type ClickProducerOptions } from './click-producer.js'
import { connectedSender, connectKafka } from './kafka-connection.js'
import type { BatchSender } from './kafka-gate.js'
import { createRegistry, registerStateGauges } from './metrics.js'
import { Spool } from './spool.js'
import { spoolReadiness } from './spool-readiness.js'

export interface IngestOverrides {
  logger?: Logger
  /** A stand-in for Kafka (tests); by default the producer connects to KAFKA_BROKERS in the background. */
  sender?: BatchSender
  /** The ads that take clicks, owned by the caller; by default an AdCatalog over DATABASE_URL. */
  catalog?: AdCatalog
  /** Producer settings that are not configuration (backoffs), or a test's own. */
  producer?: Partial<ClickProducerOptions>
  /** How often event-loop delay and heap are sampled for load shedding (default 1 s). */
  pressureSampleMs?: number
}

export type Ingest = Awaited<ReturnType<typeof createIngest>>

/**
 * ingest-api with everything it runs on: the spool, the Kafka connection, the click producer, the ad
 * catalogue, the rate limit's Redis, readiness and metrics, around the Fastify app of app.ts. server.ts
 * and the tests build it here alike; it never listens, and close() stops it in the order durability needs.
 */
export async function createIngest(config: IngestConfig, overrides: IngestOverrides = {}) {
  const logger = overrides.logger ?? createLogger('ingest-api', config.LOG_LEVEL)
  const writeTimeoutMs = parseDuration(config.WRITE_TIMEOUT)
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
  const kafka = overrides.sender ? connectedSender(overrides.sender) : connectKafka(config, logger)
  const producer = new ClickProducer(kafka.sender, config.KAFKA_TOPIC, {
    lingerMs: config.PRODUCE_LINGER_MS,
    maxBatch: config.PRODUCE_BATCH_SIZE,
    maxInFlight: config.PRODUCE_MAX_IN_FLIGHT,
    maxQueued: config.MAX_QUEUED_CLICKS,
    retries: config.KAFKA_SEND_RETRIES,
    breakerThreshold: config.KAFKA_BREAKER_THRESHOLD,
    halfOpenAfterMs: parseDuration(config.KAFKA_BREAKER_HALF_OPEN_AFTER),
    // The one deadline of a click: send() rejects at it, and the routes answer 503.
    deadlineMs: writeTimeoutMs,
    spool,
    // Time kept back from a request's deadline to fsync its click to the spool if Kafka has not answered.
    spoolReserveMs: Math.min(1000, Math.floor(writeTimeoutMs / 4)),
    replayTimeoutMs: writeTimeoutMs,
    onError: () => metrics.produceErrors.inc(),
    produceSeconds: metrics.produceSeconds,
    spooledClicks: metrics.spooledClicks,
    replayedClicks: metrics.replayedClicks,
    logger,
    ...overrides.producer,
  })

  let sql: Sql | undefined
  let catalog = overrides.catalog
  if (!catalog) {
    sql = createSql(config.DATABASE_URL, databaseOptions(config, 'ingest-api'))
    catalog = new AdCatalog(sql, parseDuration(config.AD_CATALOG_REFRESH), logger)
    await catalog.start()
  }
  const ads = catalog
  registerStateGauges(metrics.registry, ads, producer, spool)
  // NOTE: no check on the Kafka connection: a shared dependency's outage must not take every pod out of
  // the Service (the spool takes the clicks meanwhile); see spool-readiness.ts.
  const readiness = new Readiness({
    adCatalog: async () => {
      if (!Number.isFinite(ads.age)) throw new Error('not loaded yet')
    },
    spool: spoolReadiness(
      producer,
      spool,
      Math.floor((config.SPOOL_MAX_BYTES * config.SPOOL_HIGH_WATER_PERCENT) / 100),
    ),
  })

  // The rate limit's shared counters. failFast: while Redis is away the limit is skipped at once rather
  // than every click waiting on a reconnect.
  const rateLimitRedis =
    config.RATE_LIMIT_MAX > 0
      ? createRedis(config.REDIS_URL, { failFast: true, caFile: config.REDIS_TLS_CA_FILE })
      : undefined
  rateLimitRedis?.on('error', (err) =>
    logger.warn({ err: err.message }, 'rate-limit redis unavailable; limit skipped'),
  )
  const app = await buildApp(config, {
    catalog: ads,
    producer,
    registry: metrics.registry,
    readiness,
    refusedClicks: metrics.refusedClicks,
    tokenRefusals: metrics.tokenRefusals,
    acceptedClicks: metrics.acceptedClicks,
    acceptedEvents: metrics.acceptedEvents,
    rateLimitRedis,
    pressureSampleMs: overrides.pressureSampleMs,
  })

  return {
    app,
    producer,
    spool,
    metrics,
    readiness,
    /** Resolves once the producer is connected to Kafka (at once with a stand-in sender). */
    kafkaConnected: kafka.connected,
    /**
     * Stops taking requests, lets those in flight finish, then sends what is queued and gives the replay
     * loop what is left of `graceMs` (less a margin for the rest of this) to empty the spool into Kafka:
     * on a scale-down this pod's volume may never be mounted again. Whatever it cannot send stays on disk,
     * for the next start on this directory or for `replay-spool` (operations.md, the spool in Kubernetes).
     */
    async close({ graceMs = 0 }: { graceMs?: number } = {}) {
      const started = performance.now()
      readiness.beginShutdown()
      // Each request was (or will be) answered 2xx only once its click is in Kafka or fsynced in the
      // spool, so nothing acknowledged depends on what follows app.close().
      await app.close()
      if (!spool.isEmpty) {
        logger.info(
          { dir: spool.dir, records: spool.records, bytes: spool.bytes },
          'draining the spool to Kafka before exiting',
        )
      }
      // NOTE: the connection keeps being retried while the spool drains: a pod that started during an
      // outage has never connected, and Kafka may come back within the grace period.
      await producer.close({ drainMs: Math.max(0, graceMs - (performance.now() - started) - 3000) })
      kafka.stopConnecting()
      await spool.close()
      await kafka.close()
      if (sql) {
        ads.stop()
        await sql.end({ timeout: 5 })
      }
      rateLimitRedis?.disconnect()
      if (!spool.isEmpty) {
        // The metrics go with the process: this line (and the claim-without-pod alert) is what tells.
        logger.error(
          { dir: spool.dir, records: spool.records, bytes: spool.bytes },
          'stopped with clicks still in the spool (Kafka did not take them within the grace period); ' +
            'they are sent when ingest-api starts on this volume again, or by replay-spool',
        )
      } else {
        logger.info('spool empty at exit')
      }
    },
  }
}
