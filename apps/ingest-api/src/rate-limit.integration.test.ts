import { randomInt } from 'node:crypto'
import { IngestConfig } from '@adtrack/contracts'
import { freePort } from '@adtrack/local-stack'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { mintImpression, parseTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { createRedis } from '@adtrack/service-runtime/redis'
import {
  connectedProducer,
  createTestDatabase,
  createTopic,
  insertAds,
  stack,
  topicRecordCount,
  uniqueName,
} from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdCatalog } from './ad-catalog.js'
import { buildApp } from './app.js'
import { ClickProducer } from './click-producer.js'
import { createRegistry } from './metrics.js'

// Two ingest-api instances (as two pods) share the rate limit through a real Redis; a third has a
// Redis that is not there. Clicks go to a real Kafka topic.
const topic = uniqueName('ratelimit')
const TRACKING_KEYS = 'k1:rate-limit-test-tracking-key-0123456789'
const logger = pino({ level: 'silent' })
let db: Awaited<ReturnType<typeof createTestDatabase>>
let kafkaProducer: Producer
let catalog: AdCatalog
let redis: Redis
let deadRedis: Redis
type App = Awaited<ReturnType<typeof buildApp>>
const apps: App[] = []

async function ingestApp(store: Redis) {
  const config = loadConfig(IngestConfig, {
    KAFKA_TOPIC: topic,
    RATE_LIMIT_MAX: '3',
    RATE_LIMIT_WINDOW: '1m',
    LOG_LEVEL: 'silent',
    TRACKING_TOKEN_KEYS: TRACKING_KEYS,
  })
  const producer = new ClickProducer(kafkaProducer, topic, { lingerMs: 1, maxBatch: 100 })
  const app = await buildApp(config, {
    catalog,
    producer,
    registry: createRegistry().registry,
    readiness: new Readiness({}),
    rateLimitRedis: store,
  })
  apps.push(app)
  return app
}

beforeAll(async () => {
  db = await createTestDatabase()
  await insertAds(db.sql, [{ id: 'live' }])
  await createTopic(topic, 1)
  kafkaProducer = await connectedProducer('rate-limit-test')
  catalog = new AdCatalog(db.sql, 60_000, logger)
  await catalog.start()
  redis = createRedis(stack().redisUrl, { failFast: true })
  // Fail-fast means requests before the connection are let through unlimited; start once connected.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
  deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`, { failFast: true })
  deadRedis.on('error', () => {})
})

afterAll(async () => {
  for (const app of apps) await app.close()
  catalog?.stop()
  await kafkaProducer?.disconnect()
  redis?.disconnect()
  deadRedis?.disconnect()
  await db?.drop()
})

// A fresh documentation-range address per test, so that tests (and reruns) never share a budget.
const freshAddress = () => `198.51.${randomInt(0, 255)}.${randomInt(1, 254)}`
const click = (app: App, remoteAddress: string) =>
  app.inject({
    method: 'POST',
    url: '/ads/click',
    remoteAddress,
    payload: { ad_id: 'live', playback_time: 1 },
  })

describe('per-IP rate limit', () => {
  it('answers 429 with Retry-After and a JSON error past the budget, sends nothing for it, and spares others', async () => {
    const app = await ingestApp(redis)
    const address = freshAddress()
    for (let i = 0; i < 3; i++) expect((await click(app, address)).statusCode).toBe(202)
    const before = await topicRecordCount(topic)
    const limited = await click(app, address)
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect(limited.json()).toMatchObject({
      statusCode: 429,
      error: 'Too Many Requests',
      code: 'RATE_LIMITED',
    })
    expect(await topicRecordCount(topic)).toBe(before)
    expect((await click(app, freshAddress())).statusCode).toBe(202)
    expect((await app.inject('/livez')).statusCode).toBe(200) // probes are never limited
  })

  it('counts one budget across instances that share Redis', async () => {
    const [first, second] = [await ingestApp(redis), await ingestApp(redis)]
    const address = freshAddress()
    expect((await click(first, address)).statusCode).toBe(202)
    expect((await click(second, address)).statusCode).toBe(202)
    expect((await click(first, address)).statusCode).toBe(202)
    expect((await click(second, address)).statusCode).toBe(429)
  })

  it('leaves the tracking routes out: pixels keep loading and counting from an address past its click budget', async () => {
    const app = await ingestApp(redis)
    const address = freshAddress()
    for (let i = 0; i < 3; i++) expect((await click(app, address)).statusCode).toBe(202)
    expect((await click(app, address)).statusCode).toBe(429)
    const before = await topicRecordCount(topic)
    const keys = parseTrackingKeys(TRACKING_KEYS)
    // A NAT's viewers: many impressions, several events each, one address.
    for (let i = 0; i < 4; i++) {
      const { token } = mintImpression(keys, 'live', Date.now())
      for (const event of ['impression', 'start']) {
        const res = await app.inject({ url: `/track/live/${event}?t=${token}`, remoteAddress: address })
        expect(res.statusCode).toBe(200)
      }
    }
    expect(await topicRecordCount(topic)).toBe(before + 8)
  })

  it('lets clicks through, unlimited, while its Redis is unreachable', async () => {
    const app = await ingestApp(deadRedis)
    const address = freshAddress()
    for (let i = 0; i < 5; i++) expect((await click(app, address)).statusCode).toBe(202)
  })
})
