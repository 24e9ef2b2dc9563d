import { AnalyticsConfig, type RedisKeys, redisKeys } from '@adtrack/contracts'
import { freePort } from '@adtrack/local-stack'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import { createRedis } from '@adtrack/service-runtime/redis'
import { createTestDatabase, opened, stack, uniqueName } from '@adtrack/test-support'
import type { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll } from 'vitest'
import { type AnalyticsDeps, buildApp } from '../app.js'
import { analyticsStores } from '../stores.js'

// analytics-api as server.ts wires it, without listening, over a fresh database and the dev stack's Redis
// under a key prefix of the test file's own: for the integration tests, which answer with app.inject.

type App = Awaited<ReturnType<typeof buildApp>>

export interface AnalyticsTestApp {
  readonly keys: RedisKeys
  readonly db: Awaited<ReturnType<typeof createTestDatabase>>
  readonly redis: Redis
  readonly app: App
  /** The same app over a Redis client whose port nothing listens on (with `withoutRedis` only). */
  readonly withoutRedis: App
}

export interface AnalyticsTestOptions {
  /** Added to the configuration (silent logs). */
  env?: Record<string, string>
  /** Dependencies other than the stores, over the app's Redis client (a readiness check, a fixed clock). */
  deps?: (redis: Redis) => Partial<AnalyticsDeps>
  withoutRedis?: boolean
}

/** Builds the app before a test file's tests and closes it after (call it at the file's top level). */
export function analyticsApp(name: string, options: AnalyticsTestOptions = {}): AnalyticsTestApp {
  const keys = redisKeys(`${uniqueName(name)}:`)
  let db: AnalyticsTestApp['db'] | undefined
  let redis: Redis | undefined
  let deadRedis: Redis | undefined
  let app: App | undefined
  let withoutRedis: App | undefined

  const build = (sql: AnalyticsTestApp['db']['sql'], client: Redis) =>
    buildApp(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent', ...options.env }), {
      ...analyticsStores(sql, client, keys),
      registry: new Registry(),
      readiness: new Readiness({}),
      ...options.deps?.(client),
    })

  beforeAll(async () => {
    db = await createTestDatabase()
    redis = createRedis(stack().redisUrl)
    app = await build(db.sql, redis)
    if (options.withoutRedis) {
      deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`)
      deadRedis.on('error', () => {})
      withoutRedis = await build(db.sql, deadRedis)
    }
  })
  afterAll(async () => {
    await app?.close()
    await withoutRedis?.close()
    deadRedis?.disconnect()
    await redis?.quit()
    await db?.drop()
  })

  return {
    keys,
    get db() {
      return opened(db, 'analyticsApp: the database')
    },
    get redis() {
      return opened(redis, 'analyticsApp: Redis')
    },
    get app() {
      return opened(app, 'analyticsApp: the app')
    },
    get withoutRedis() {
      return opened(withoutRedis, 'analyticsApp: the app without Redis (withoutRedis: true)')
    },
  }
}
