import { IngestConfig, parseDuration } from '@adtrack/contracts'
import { createSql } from '@adtrack/db'
import {
  ConfigError,
  createLogger,
  loadConfig,
  Readiness,
  routeProcessWarnings,
  startOpsServer,
} from '@adtrack/service-runtime'
import { createKafka, ensureTopic } from '@adtrack/service-runtime/kafka'
import closeWithGrace from 'close-with-grace'
import { Partitioners } from 'kafkajs'
import { AdCatalog } from './ad-catalog.js'
import { buildApp } from './app.js'
import { ClickProducer } from './click-producer.js'
import { createRegistry, registerStateGauges } from './metrics.js'

let config: IngestConfig
try {
  config = loadConfig(IngestConfig, process.env)
} catch (err) {
  process.stderr.write(`ingest-api: ${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(1)
}

const logger = createLogger('ingest-api', config.LOG_LEVEL)
routeProcessWarnings(logger)
const { registry, produceSeconds } = createRegistry()
const sql = createSql(config.DATABASE_URL, { max: 2, applicationName: 'ingest-api' })
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger })
const kafkaProducer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
})
const producer = new ClickProducer(kafkaProducer, config.KAFKA_TOPIC, {
  lingerMs: config.PRODUCE_LINGER_MS,
  maxBatch: config.PRODUCE_BATCH_SIZE,
  produceSeconds,
})
const catalog = new AdCatalog(sql, parseDuration(config.AD_CATALOG_REFRESH), logger)
registerStateGauges(registry, catalog, producer)

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
})

const created = await ensureTopic(kafka, config.KAFKA_TOPIC, {
  partitions: config.KAFKA_TOPIC_PARTITIONS,
  replicationFactor: config.KAFKA_REPLICATION_FACTOR,
})
if (created)
  logger.info({ topic: config.KAFKA_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS }, 'created topic')
await kafkaProducer.connect()
await catalog.start()

const app = await buildApp(config, { catalog, producer, registry, readiness })
const ops = await startOpsServer({ port: config.METRICS_PORT, registry, readiness })
await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST })
app.server.timeout = parseDuration(config.WRITE_TIMEOUT) + parseDuration(config.READ_TIMEOUT)

closeWithGrace({ delay: parseDuration(config.SHUTDOWN_TIMEOUT) }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  readiness.beginShutdown()
  // Stop taking requests, let those in flight finish (their clicks are in the producer's queue),
  // then flush the queue so every accepted click is acknowledged before the producer goes.
  await app.close()
  await producer.flush()
  await kafkaProducer.disconnect()
  catalog.stop()
  await ops.close()
  await sql.end({ timeout: 5 })
})
