import { seedDemoAds } from '@adtrack/db'
import type { StackTls } from '@adtrack/local-stack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, stackTls, uniqueName, waitFor } from './helpers.js'
import { type RunningService, startService } from './services.js'

// The services as production runs them: Kafka only through its SASL_SSL listener (TLS, SCRAM-SHA-512),
// PostgreSQL only with sslmode=verify-full and Redis only on its TLS port, against the stack's own CA.
// The local stack serves these beside its plain listeners (tools/local-stack, tls-material.ts). The
// clients' own checks (a wrong CA, a wrong password) are in service-runtime's kafka and redis and db's
// client integration tests.

/** stackTls().databaseUrl (verify-full) on another database. */
function databaseOverTls(tls: StackTls, database: string): string {
  const url = new URL(tls.databaseUrl)
  url.pathname = `/${database}`
  return url.toString()
}

describe('the three services with only TLS connections', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>
  let databaseName: string
  let services: RunningService[] = []

  beforeAll(async () => {
    db = await createTestDatabase()
    await seedDemoAds(db.sql)
    databaseName = new URL(db.url).pathname.slice(1)
    const tls = stackTls()
    const env: Record<string, string> = {
      DATABASE_URL: databaseOverTls(tls, databaseName),
      KAFKA_BROKERS: tls.kafkaBrokers.join(','),
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: tls.caFile,
      KAFKA_SASL_MECHANISM: tls.kafkaSasl.mechanism,
      KAFKA_SASL_USERNAME: tls.kafkaSasl.username,
      KAFKA_SASL_PASSWORD: tls.kafkaSasl.password,
      REDIS_URL: tls.redisUrl,
      REDIS_TLS_CA_FILE: tls.caFile,
      KAFKA_TOPIC: uniqueName('tls-clicks'),
      KAFKA_TOPIC_PARTITIONS: '2',
      KAFKA_GROUP_ID: uniqueName('tls-workers'),
      REDIS_KEY_PREFIX: `${uniqueName('tls')}:`,
      FILTER_BOTS: 'false', // this test's client is fetch, which the bot list rightly names
    }
    services = await Promise.all([
      startService('ingest-api', env),
      startService('click-worker', env),
      startService('analytics-api', env),
    ])
  })

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()))
    await db?.drop()
  })

  it('takes a click in through Kafka and counts it in PostgreSQL and Redis', async () => {
    const [ingest, , analytics] = services as [RunningService, RunningService, RunningService]
    const res = await fetch(`${ingest.httpUrl}/ads/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ad_id: '1', playback_time: 30 }),
    })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ status: 'Click recorded' })
    // The click went ingest-api -> Kafka (SASL_SSL) -> click-worker -> PostgreSQL and Redis.
    await waitFor(
      async () => {
        const reply = await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=1`)
        const body = (await reply.json()) as { click_count: number }
        return body.click_count === 1 ? true : undefined
      },
      { timeoutMs: 30_000, what: 'the click counted' },
    )
    const [stored] = await db.sql<{ n: number }[]>`select count(*)::int as n from clicks where ad_id = '1'`
    expect(stored?.n).toBe(1)
  })

  it("holds every one of the services' PostgreSQL connections over TLS", async () => {
    // analytics-api reads the ads from PostgreSQL (its pool opens connections when first needed).
    expect((await fetch(`${(services[2] as RunningService).httpUrl}/ads`)).status).toBe(200)
    const rows = await db.sql<{ application_name: string; ssl: boolean }[]>`
      select a.application_name, s.ssl
      from pg_stat_activity a join pg_stat_ssl s using (pid)
      where a.datname = ${databaseName} and a.application_name in ('ingest-api', 'click-worker', 'analytics-api')`
    expect(new Set(rows.map((row) => row.application_name))).toEqual(
      new Set(['ingest-api', 'click-worker', 'analytics-api']),
    )
    expect(rows.filter((row) => !row.ssl)).toEqual([])
  })
})
