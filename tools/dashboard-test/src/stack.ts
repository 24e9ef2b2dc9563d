import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seedDemoAds } from '@adtrack/db'
import { freePort, type GatewayServer } from '@adtrack/local-stack'
import { parseTrackingKeys, type TrackingKeys } from '@adtrack/service-runtime/impression-token'
import {
  createTestDatabase,
  type RunningService,
  stack,
  startGatewayFor,
  startService,
  uniqueName,
} from '@adtrack/test-support'

/** The services as `npm start` runs them, behind the gateway, on a database seeded with the demo ads. */
export interface DashboardStack {
  /** The gateway: the dashboard at /dashboard/, the API beside it, the tracking routes under /track/. */
  url: string
  adminKey: string
  /** The keys the services sign and check impression tokens with, so the test can mint its own. */
  trackingKeys: TrackingKeys
  db: Awaited<ReturnType<typeof createTestDatabase>>
  stop(): Promise<void>
}

export async function startDashboardStack(): Promise<DashboardStack> {
  const db = await createTestDatabase()
  await seedDemoAds(db.sql)
  const adminKey = `dash-admin-${randomBytes(12).toString('hex')}`
  const tokenKeys = `dash:${randomBytes(24).toString('base64url')}`
  const gatewayPort = await freePort()
  const url = `http://127.0.0.1:${gatewayPort}`
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: stack().redisUrl,
    KAFKA_BROKERS: stack().kafkaBrokers.join(','),
    KAFKA_TOPIC: uniqueName('dashboard_events'),
    KAFKA_TOPIC_PARTITIONS: '2',
    KAFKA_GROUP_ID: uniqueName('dashboard_workers'),
    REDIS_KEY_PREFIX: `${uniqueName('dashboard')}:`,
    TRACKING_TOKEN_KEYS: tokenKeys,
    LOG_LEVEL: 'warn',
  }
  const services: RunningService[] = []
  let gateway: GatewayServer | undefined
  const work = await mkdtemp(join(tmpdir(), 'adtrack-dashboard-'))
  const stop = async () => {
    await gateway?.stop()
    await Promise.all(services.map((s) => s.stop()))
    await db.drop()
    await rm(work, { recursive: true, force: true })
  }
  try {
    // As npm start configures them (local-stack services.ts), with the worker's bot filter on: the test's
    // traffic says it is a browser, and the page's figures must count it as one.
    services.push(await startService('ingest-api', { ...env, TRUSTED_PROXIES: '127.0.0.1,::1' }))
    services.push(
      ...(await Promise.all([
        startService('click-worker', env),
        startService('analytics-api', { ...env, PUBLIC_BASE_URL: url, ADMIN_API_KEYS: adminKey }),
      ])),
    )
    const [ingest, , analytics] = services as [RunningService, RunningService, RunningService]
    gateway = await startGatewayFor({ ingest, analytics }, { dir: join(work, 'gateway'), port: gatewayPort })
  } catch (err) {
    await stop()
    throw err
  }
  return { url, adminKey, trackingKeys: parseTrackingKeys(tokenKeys), db, stop }
}
