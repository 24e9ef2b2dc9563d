import { IngestConfig } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { connectedProducer, createTestDatabase, createTopic, opened, uniqueName } from '@adtrack/test-support'
import type { FastifyInstance } from 'fastify'
import type { Producer } from 'kafkajs'
import { pino } from 'pino'
import { afterAll, beforeAll } from 'vitest'
import { AdCatalog } from '../ad-catalog.js'
import { buildApp } from '../app.js'
import { ClickProducer } from '../click-producer.js'
import { createRegistry } from '../metrics.js'

// ingest-api as server.ts wires it, without listening, against the dev stack's Kafka (a three-partition
// topic of the test file's own) and a fresh database for its ad catalogue: for the integration tests,
// which answer requests with app.inject and read what reached the topic.

export interface IngestTestApp {
  /** The test file's topic (KAFKA_TOPIC). */
  readonly topic: string
  readonly app: FastifyInstance
  readonly db: Awaited<ReturnType<typeof createTestDatabase>>
  readonly metrics: ReturnType<typeof createRegistry>
}

/**
 * Builds the app before a test file's tests and closes it after (call it at the file's top level).
 * `env` adds to the configuration (the topic, a 200 ms catalogue refresh and silent logs); `seed`
 * writes the ads the catalogue starts with.
 */
export function ingestApp(
  name: string,
  { env = {}, seed }: { env?: Record<string, string>; seed: (sql: Sql) => Promise<unknown> },
): IngestTestApp {
  const topic = uniqueName(name)
  let db: IngestTestApp['db'] | undefined
  let kafkaProducer: Producer | undefined
  let catalog: AdCatalog | undefined
  let app: FastifyInstance | undefined
  let metrics: IngestTestApp['metrics'] | undefined

  beforeAll(async () => {
    db = await createTestDatabase()
    await seed(db.sql)
    await createTopic(topic, 3)
    const config = loadConfig(IngestConfig, {
      KAFKA_TOPIC: topic,
      AD_CATALOG_REFRESH: '200ms',
      LOG_LEVEL: 'silent',
      ...env,
    })
    kafkaProducer = await connectedProducer(`${name}-test`)
    catalog = new AdCatalog(db.sql, 200, pino({ level: 'silent' }))
    await catalog.start()
    metrics = createRegistry()
    const producer = new ClickProducer(kafkaProducer, topic, { lingerMs: 2, maxBatch: 100 })
    app = await buildApp(config, {
      catalog,
      producer,
      registry: metrics.registry,
      readiness: new Readiness({}),
      refusedClicks: metrics.refusedClicks,
      tokenRefusals: metrics.tokenRefusals,
    })
  })
  afterAll(async () => {
    await app?.close()
    catalog?.stop()
    await kafkaProducer?.disconnect()
    await db?.drop()
  })

  return {
    topic,
    get app() {
      return opened(app, 'ingestApp: the app')
    },
    get db() {
      return opened(db, 'ingestApp: the database')
    },
    get metrics() {
      return opened(metrics, 'ingestApp: the metrics')
    },
  }
}
