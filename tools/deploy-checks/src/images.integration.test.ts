import { existsSync } from 'node:fs'
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createSql } from '@adtrack/db'
import { freePort, type GatewayServer } from '@adtrack/local-stack'
import { stack, startGatewayFor, uniqueName, waitFor } from '@adtrack/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ComposeProject, environmentOf, loadCompose } from './compose.js'
import { durationSeconds } from './k8s.js'
import {
  checkQueries,
  dashboardQueries,
  indexExposition,
  kubernetesRulesDir,
  loadDashboard,
  loadExternalSeries,
  loadPending,
  loadRules,
  parseQueries,
  pendingQueries,
  type Rule,
  rulesDir,
} from './observability.js'
import { deployDir, SERVICES, type ServiceName } from './paths.js'
import { run } from './run.js'
import { type BuiltService, buildService, startBuiltService } from './services.js'

// The image recipe without Docker: deploy/build-service.sh (the script every build RUN of
// deploy/Dockerfile calls) builds each service into its own directory, and that directory is run the way
// the image runs it, `node dist/server.js`, with docker-compose.yml's environment, against real Kafka,
// PostgreSQL and Redis, behind the compose gateway's nginx configuration. Then everything the dashboard
// and the alerts query is checked against what the running services export.

let work: string
const builds = {} as Record<ServiceName, { dir: string; seconds: number }>
let compose: ComposeProject
let database: { url: string; drop: () => Promise<void> }
const running = {} as Record<ServiceName, BuiltService>
let gateway: GatewayServer
const scrapes = {} as Record<ServiceName, string>
// A browser's user agent: the worker marks non-browser clients as bots (FILTER_BOTS).
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'adtrack-images-'))
  const started = Date.now()
  const [project] = await Promise.all([
    loadCompose(),
    ...SERVICES.map(async (service) => {
      const dir = join(work, service)
      builds[service] = { dir, ...(await buildService(service, dir)) }
    }),
  ])
  compose = project
  process.stderr.write(
    `[deploy-checks] built ${SERVICES.join(', ')} with build-service.sh in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  )
}, 15 * 60_000)

afterAll(async () => {
  await gateway?.stop()
  await Promise.all(Object.values(running).map((s) => s.stop('SIGKILL')))
  await database?.drop()
  if (work) await rm(work, { recursive: true, force: true })
})

/** Every symlink in dir, with where it points. */
async function links(dir: string): Promise<{ link: string; target: string }[]> {
  const found: { link: string; target: string }[] = []
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isSymbolicLink())
        found.push({ link: path, target: resolve(dirname(path), await readlink(path)) })
      else if (entry.isDirectory()) await walk(path)
    }
  }
  await walk(dir)
  return found
}

describe('build-service.sh (the image recipe)', () => {
  it.each(SERVICES)('%s: a self-contained directory with production dependencies only', async (service) => {
    const { dir } = builds[service]
    expect(existsSync(join(dir, 'dist/server.js'))).toBe(true)
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
    expect(manifest.name).toBe(`@adtrack/${service}`)
    // Nothing points outside the directory: COPY --from=built /out /app must carry everything.
    const root = await realpath(dir)
    for (const { link, target } of await links(dir)) {
      expect(target.startsWith(`${root}/`), `${link} -> ${target}`).toBe(true)
      expect(existsSync(target), `${link} dangles`).toBe(true)
    }
    // Production dependencies only: no compiler, test runner, linter or test helpers.
    const store = await readdir(join(dir, 'node_modules/.pnpm'))
    for (const dev of ['typescript@', 'vitest@', '@biomejs+', '@types+node@', 'testcontainers@', 'turbo@'])
      expect(
        store.filter((p) => p.startsWith(dev)),
        dev,
      ).toEqual([])
    for (const pkg of ['test-support', 'local-stack'])
      expect(existsSync(join(dir, 'node_modules/@adtrack', pkg))).toBe(false)
    // The database migrations ride along with the db package (the migration init containers and compose's migrate).
    const migrations = await readdir(join(dir, 'node_modules/@adtrack/db/migrations'))
    expect(migrations.filter((f) => f.endsWith('.sql')).length).toBeGreaterThan(0)
    expect((await lstat(join(dir, 'node_modules/@adtrack/db/dist/cli.js'))).isFile()).toBe(true)
  })
})

describe('the built services, run with the compose environment', () => {
  it("runs compose's migrate-and-seed command from the built ingest-api", async () => {
    const admin = createSql(stack().databaseUrl, { max: 1 })
    const name = uniqueName('images').toLowerCase()
    await admin.unsafe(`create database "${name}"`)
    const url = new URL(stack().databaseUrl)
    url.pathname = `/${name}`
    database = {
      url: url.toString(),
      drop: async () => {
        await admin.unsafe(`drop database if exists "${name}" with (force)`)
        await admin.end({ timeout: 5 })
      },
    }
    const migrate = compose.services.migrate
    expect(migrate?.image).toBe(compose.services['ingest-api']?.image)
    const [cmd, ...args] = (migrate?.command ?? []) as string[]
    expect(cmd).toBe('node')
    const result = await run(process.execPath, args, {
      cwd: builds['ingest-api'].dir,
      env: { PATH: process.env.PATH, DATABASE_URL: database.url },
    })
    expect(result.code, result.stderr).toBe(0)
    const sql = createSql(database.url, { max: 1 })
    const [{ count }] = (await sql`select count(*)::int as count from ads`) as unknown as [{ count: number }]
    await sql.end({ timeout: 5 })
    expect(count).toBe(10)
  })

  it('starts ingest-api, click-worker and analytics-api from their builds; each becomes ready', async () => {
    expect(database, 'the migration test ran first').toBeDefined()
    const isolation = {
      KAFKA_TOPIC: uniqueName('images-clicks'),
      KAFKA_GROUP_ID: uniqueName('images-workers'),
      REDIS_KEY_PREFIX: `${uniqueName('images')}:`,
    }
    for (const service of SERVICES) {
      const composeEnv = environmentOf(compose.services[service] as object)
      // The compose environment, with what differs between a container network and this test: where
      // Kafka, PostgreSQL and Redis are, free ports, a private topic, group and key prefix, and the
      // gateway on loopback rather than on a private network.
      const env: Record<string, string> = {
        ...composeEnv,
        HTTP_PORT: String(await freePort()),
        METRICS_PORT: String(await freePort()),
        DATABASE_URL: database.url,
        ...(composeEnv.KAFKA_BROKERS ? { KAFKA_BROKERS: stack().kafkaBrokers.join(','), ...isolation } : {}),
        ...(composeEnv.REDIS_URL
          ? { REDIS_URL: stack().redisUrl, REDIS_KEY_PREFIX: isolation.REDIS_KEY_PREFIX }
          : {}),
        ...(composeEnv.TRUSTED_PROXIES ? { TRUSTED_PROXIES: 'loopback' } : {}),
        ...(composeEnv.SPOOL_DIR ? { SPOOL_DIR: join(work, `${service}-spool`) } : {}),
      }
      if (service === 'click-worker') delete env.HTTP_PORT
      running[service] = await startBuiltService(service, builds[service].dir, env)
    }
    // The image's HEALTHCHECK (compose's too) against each: 0 when ready, 1 when nothing answers.
    const healthcheck = join(deployDir, 'healthcheck.mjs')
    for (const service of SERVICES) {
      expect(compose.services[service]?.healthcheck?.test).toEqual(['CMD', 'healthcheck'])
      const ok = await run(process.execPath, [healthcheck], {
        env: { METRICS_PORT: running[service].env.METRICS_PORT },
      })
      expect(ok.code, ok.stderr).toBe(0)
    }
    const down = await run(process.execPath, [healthcheck], {
      env: { METRICS_PORT: String(await freePort()) },
    })
    expect(down.code).toBe(1)
  })

  it('serves the old public API through the gateway: POST /ads/click to ingest-api, the rest to analytics-api', async () => {
    const gatewayEnv = environmentOf(compose.services.gateway as object)
    gateway = await startGatewayFor(
      { ingest: running['ingest-api'], analytics: running['analytics-api'] },
      { dir: join(work, 'gateway'), port: await freePort(), variables: gatewayEnv },
    )
    const ads = await fetch(`${gateway.url}/ads`)
    expect(ads.status).toBe(200)
    expect(((await ads.json()) as { id: string }[]).map((a) => a.id)).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ])
    expect((await fetch(`${gateway.url}/ads/3`)).status).toBe(200)
    expect((await fetch(`${gateway.url}/ads/analytics?ad_id=3`)).status).toBe(200)
    expect((await fetch(`${gateway.url}/ads/analytics`)).status).toBe(400)

    // The README's curl example, through the gateway: form content type, JSON body.
    const click = await fetch(`${gateway.url}/ads/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': BROWSER },
      body: '{"ad_id": "1", "playback_time": 30}',
    })
    expect(click.status, await click.clone().text()).toBe(202)
    expect(((await click.json()) as { status: string }).status).toBe('Click recorded')
    const unknown = await fetch(`${gateway.url}/ads/click`, {
      method: 'POST',
      body: '{"ad_id": "no-such-ad", "playback_time": 30}',
    })
    expect(unknown.status).toBe(404)
    const bad = await fetch(`${gateway.url}/ads/click`, { method: 'POST', body: '{"ad_id": "1"}' })
    expect(bad.status).toBe(400)
  })

  it('counts clicks made through the gateway once, with unique viewers from X-Forwarded-For', async () => {
    const click = (ip: string) =>
      fetch(`${gateway.url}/ads/click`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': BROWSER, 'x-forwarded-for': ip },
        body: JSON.stringify({ ad_id: '2', playback_time: 12 }),
      })
    const viewers = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5']
    for (const ip of viewers) expect((await click(ip)).status).toBe(202)
    // The same viewer again at once: stored, but marked as a repeat and not counted.
    expect((await click('198.51.100.1')).status).toBe(202)
    const analytics = await waitFor(
      async () => {
        const res = await fetch(`${gateway.url}/ads/analytics?ad_id=2`)
        const body = (await res.json()) as {
          click_count: number
          unique_viewers: number
          invalid_clicks: { repeat: number }
        }
        return body.click_count + body.invalid_clicks.repeat >= viewers.length + 1 ? body : undefined
      },
      { what: 'the worker to count the clicks', timeoutMs: 60_000, intervalMs: 200 },
    )
    expect(analytics.click_count).toBe(viewers.length)
    expect(analytics.unique_viewers).toBe(viewers.length)
    expect(analytics.invalid_clicks.repeat).toBe(1)
  })
})

describe('dashboards and alerts against what the services export', () => {
  it('every metric and label the dashboard and the alert rules use is in a scrape of the running services', async () => {
    for (const service of SERVICES) {
      const res = await fetch(`${running[service].metricsUrl}/metrics`)
      expect(res.status).toBe(200)
      scrapes[service] = await res.text()
    }
    const index = indexExposition(scrapes)
    const pending = await loadPending()
    const [dashboard, serviceRules, kubernetesRules, pendingParsed, external] = await Promise.all([
      loadDashboard().then((d) => parseQueries(dashboardQueries(d))),
      loadRules(undefined, [rulesDir]),
      loadRules(undefined, [kubernetesRulesDir]),
      parseQueries(pendingQueries(pending)),
      loadExternalSeries(),
    ])
    const asQueries = (rules: Rule[]) => rules.map((r) => ({ ...r, where: `alert ${r.alert ?? r.record}` }))
    // The rules Compose loads name only what the services export (or Prometheus's own `up`); the
    // dashboard and the Kubernetes rules may also name kube-state-metrics' and CloudNativePG's series,
    // with the labels external-series.yml gives them.
    const own = checkQueries(asQueries(serviceRules), index, pending, false)
    expect(own.problems).toEqual([])
    const checked = checkQueries(
      [...dashboard, ...asQueries(kubernetesRules)],
      index,
      pending,
      false,
      external,
    )
    expect(checked.problems).toEqual([])
    expect(kubernetesRules.length, 'the Kubernetes rules').toBeGreaterThan(0)
    const waiting = checkQueries(pendingParsed, index, pending, true)
    expect(waiting.problems).toEqual([])
    // Every pending metric is wanted by some pending panel or alert, and described.
    for (const m of pending.metrics) {
      expect(m.wanted, m.name).toBeTruthy()
      expect([...waiting.pending.keys(), ...waiting.nowExported], m.name).toContain(m.name)
    }
    const report = [
      `dashboard and alerts use ${new Set([...own.used, ...checked.used]).size} metrics: ${[...new Set([...own.used, ...checked.used])].sort().join(', ')}`,
      ...[...waiting.pending].map(
        ([metric, where]) =>
          `PENDING ${metric}: not exported by any service yet; wanted by ${where.join('; ')}`,
      ),
      ...waiting.nowExported.map(
        (metric) =>
          `READY ${metric} is exported now: move its panels and alerts from pending.yml into the dashboard and rules`,
      ),
    ]
    process.stderr.write(`[deploy-checks] ${report.join('\n[deploy-checks] ')}\n`)
  })
})

describe('shutdown', () => {
  it('each service exits 0 on SIGTERM within its SHUTDOWN_TIMEOUT', async () => {
    for (const service of ['ingest-api', 'analytics-api', 'click-worker'] as const) {
      const s = running[service]
      const limit = durationSeconds(s.env.SHUTDOWN_TIMEOUT ?? '20s')
      const stopped = await s.stop('SIGTERM')
      expect(stopped.code, `${service}:\n${s.output().slice(-3000)}`).toBe(0)
      expect(stopped.seconds).toBeLessThan(limit)
      delete running[service]
    }
  })
})
