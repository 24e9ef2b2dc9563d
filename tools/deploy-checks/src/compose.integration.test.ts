import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { GATEWAY_TEMPLATE } from '@adtrack/local-stack'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import {
  type ComposeProject,
  type ComposeService,
  composeErrorWithoutEnv,
  environmentOf,
  generatedComposeEnv,
  loadCompose,
} from './compose.js'
import { durationSeconds } from './k8s.js'
import {
  allPanels,
  type Dashboard,
  dashboardQueries,
  loadDashboard,
  loadPending,
  loadRules,
  parseQueries,
  pendingQueries,
  type Rule,
} from './observability.js'
import { observabilityDir, repoRoot, SERVICES } from './paths.js'
import { checkServiceEnvironment } from './service-config.js'

// docker-compose.yml loaded the way Docker Compose loads it (compose-go), with and without the
// observability profile, then held to the images, the services' configuration, the gateway template and
// the Prometheus and Grafana files it mounts. The images test runs the same environment for real.

let plain: ComposeProject
let observability: ComposeProject
let dashboard: Dashboard
let rules: Rule[]

beforeAll(async () => {
  ;[plain, observability, dashboard, rules] = await Promise.all([
    loadCompose([]),
    loadCompose(['observability']),
    loadDashboard(),
    loadRules(),
  ])
}, 15 * 60_000)

const service = (name: string, project = plain): ComposeService => {
  const s = project.services[name]
  if (!s) throw new Error(`no service ${name}`)
  return s
}
/** Host path of a bind mount's source, relative to the repository. */
const hostPath = (source: string) => relative(repoRoot, source)

describe('docker-compose.yml', () => {
  it('is the whole stack with one `docker compose up`; the observability profile adds Prometheus and Grafana', () => {
    const core = [
      'analytics-api',
      'click-worker',
      'gateway',
      'ingest-api',
      'kafka',
      'migrate',
      'postgres',
      'redis',
    ]
    expect(Object.keys(plain.services).sort()).toEqual(core)
    expect(Object.keys(observability.services).sort()).toEqual([...core, 'grafana', 'prometheus'].sort())
  })

  it('runs Kafka 3.9 in KRaft mode from the official image, reachable by the containers and the host', () => {
    const kafka = service('kafka')
    // 3.9.x, pinned by digest (the digest itself: third-party-images.test.ts).
    expect(kafka.image).toMatch(/^apache\/kafka:3\.9\.\d+@sha256:[0-9a-f]{64}$/)
    const env = environmentOf(kafka)
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller')
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@/)
    const advertised = env.KAFKA_ADVERTISED_LISTENERS?.split(',').map((l) => l.replace(/^\w+:\/\//, '')) ?? []
    for (const name of ['ingest-api', 'click-worker'])
      expect(advertised).toContain(environmentOf(service(name)).KAFKA_BROKERS)
    expect(advertised).toContain('localhost:9092')
    expect(
      kafka.ports?.map((p: { published: string; target: number }) => `${p.published}:${p.target}`),
    ).toContain('9092:9092')
  })

  it('publishes every port on 127.0.0.1 only (the gateway too, unless GATEWAY_BIND says otherwise)', () => {
    for (const [name, s] of Object.entries(observability.services))
      for (const port of (s.ports ?? []) as { host_ip?: string; published: string }[])
        expect(port.host_ip, `${name} :${port.published}`).toBe('127.0.0.1')
  })

  it('takes its credentials from .env, which init-env.sh generates, and names what is missing without it', async () => {
    const error = await composeErrorWithoutEnv()
    expect(error).toMatch(/POSTGRES_PASSWORD|GRAFANA_ADMIN_PASSWORD|TRACKING_TOKEN_KEYS/)
    expect(error).toContain('deploy/compose/init-env.sh')
    const [first, second] = [await generatedComposeEnv(), await generatedComposeEnv()]
    try {
      const values = (text: string) =>
        Object.fromEntries(
          text
            .trim()
            .split('\n')
            .map((l) => l.split(/=(.*)/s).slice(0, 2)),
        )
      const a = values(first.text)
      const b = values(second.text)
      expect(Object.keys(a).sort()).toEqual([
        'GRAFANA_ADMIN_PASSWORD',
        'POSTGRES_PASSWORD',
        'TRACKING_TOKEN_KEYS',
      ])
      // Random each time, long, URL-safe (they go into DATABASE_URL).
      for (const key of Object.keys(a)) {
        expect(a[key], key).not.toBe(b[key])
        expect(a[key], key).toMatch(/^(compose:)?[0-9a-f]{48}$/)
      }
      const env = environmentOf(service('postgres'))
      expect(env.POSTGRES_PASSWORD).toMatch(/^[0-9a-f]{48}$/)
      expect(environmentOf(service('ingest-api')).DATABASE_URL).toBe(
        `postgres://postgres:${env.POSTGRES_PASSWORD}@postgres:5432/ad_tracking`,
      )
      expect(environmentOf(service('grafana', observability)).GF_SECURITY_ADMIN_PASSWORD).not.toBe('admin')
    } finally {
      await Promise.all([first.cleanup(), second.cleanup()])
    }
  })

  it("builds each service's image from deploy/Dockerfile; the migrate job runs ingest-api's image", () => {
    for (const name of SERVICES) {
      const s = service(name)
      expect(s.build?.context).toBe(repoRoot)
      expect(s.build?.dockerfile).toBe('deploy/Dockerfile')
      expect(s.build?.args).toEqual({ SERVICE: name })
      expect(s.image).toBe(`ad-tracking/${name}:dev`)
    }
    const migrate = service('migrate')
    expect(migrate.image).toBe(service('ingest-api').image)
    expect(migrate.build).toEqual(service('ingest-api').build)
    expect(migrate.command).toEqual(['node', 'node_modules/@adtrack/db/dist/cli.js', 'setup'])
    expect(migrate.restart ?? 'no').toBe('no')
    expect(environmentOf(migrate)).toEqual({
      DATABASE_URL: environmentOf(service('ingest-api')).DATABASE_URL,
    })
  })

  it('starts in order: every dependency waited on is healthy (or done), and has a health check', () => {
    const expected: Record<string, Record<string, string>> = {
      migrate: { postgres: 'service_healthy' },
      'ingest-api': {
        kafka: 'service_healthy',
        postgres: 'service_healthy',
        redis: 'service_healthy',
        migrate: 'service_completed_successfully',
      },
      'click-worker': {
        kafka: 'service_healthy',
        postgres: 'service_healthy',
        redis: 'service_healthy',
        migrate: 'service_completed_successfully',
      },
      'analytics-api': {
        postgres: 'service_healthy',
        redis: 'service_healthy',
        migrate: 'service_completed_successfully',
      },
      gateway: { 'ingest-api': 'service_healthy', 'analytics-api': 'service_healthy' },
    }
    for (const [name, deps] of Object.entries(expected)) {
      const actual = Object.fromEntries(
        Object.entries((service(name).depends_on ?? {}) as Record<string, { condition: string }>).map(
          ([d, v]) => [d, v.condition],
        ),
      )
      expect(actual, name).toEqual(deps)
    }
    for (const project of [plain, observability])
      for (const [name, s] of Object.entries(project.services))
        for (const [dep, v] of Object.entries((s.depends_on ?? {}) as Record<string, { condition: string }>))
          if (v.condition === 'service_healthy')
            expect(
              project.services[dep]?.healthcheck?.test,
              `${name} waits for ${dep} to be healthy`,
            ).toBeDefined()
    for (const name of [...SERVICES, 'gateway', 'postgres', 'redis', 'kafka'])
      expect(service(name).healthcheck?.test?.length, name).toBeGreaterThan(0)
  })

  it.each(SERVICES)('%s: hardened, stopped gracefully, reads every variable it is given', (name) => {
    const s = service(name)
    expect(s.read_only).toBe(true)
    expect(s.tmpfs).toContain('/tmp')
    expect(s.cap_drop).toEqual(['ALL'])
    expect(s.security_opt).toContain('no-new-privileges:true')
    const env = environmentOf(s)
    // Compose sends SIGKILL after stop_grace_period (10 s unless set): longer than the service's drain.
    expect(durationSeconds(s.stop_grace_period ?? '10s')).toBeGreaterThan(
      durationSeconds(env.SHUTDOWN_TIMEOUT ?? '20s'),
    )
    expect(checkServiceEnvironment(name, env)).toEqual([])
    expect(env.METRICS_PORT).toBe('2112')
  })

  it('keeps data in named volumes, the ingest spool included', () => {
    const mounts = (name: string) =>
      (service(name, observability).volumes ?? []) as { type: string; source: string; target: string }[]
    const named = Object.keys(observability.volumes ?? {})
    const expectVolume = (name: string, target: string) => {
      const mount = mounts(name).find((m) => m.target === target)
      expect(mount?.type, `${name} ${target}`).toBe('volume')
      expect(named).toContain(mount?.source)
    }
    expectVolume('postgres', '/var/lib/postgresql/data')
    expectVolume('redis', '/data')
    expectVolume('kafka', environmentOf(service('kafka')).KAFKA_LOG_DIRS as string)
    expectVolume('ingest-api', environmentOf(service('ingest-api')).SPOOL_DIR as string)
    expectVolume('prometheus', '/prometheus')
    expectVolume('grafana', '/var/lib/grafana')
  })

  it('serves the public API on :8080 from the gateway, whose template uses only variables it is given', async () => {
    const gateway = service('gateway')
    expect(gateway.image).toMatch(/^nginx:/)
    expect(
      gateway.ports?.map((p: { published: string; target: number }) => `${p.published}:${p.target}`),
    ).toEqual(['8080:8080'])
    expect(environmentOf(gateway).GATEWAY_RESOLVER, "Docker's embedded DNS").toBe('127.0.0.11')
    // Only the gateway is published among our services.
    for (const name of SERVICES) expect(service(name).ports ?? [], name).toEqual([])
    const mount = (gateway.volumes ?? []).find((m: { target: string }) => m.target === '/etc/nginx/templates')
    expect(hostPath(mount.source)).toBe(relative(repoRoot, join(GATEWAY_TEMPLATE, '..')))
    const template = await readFile(GATEWAY_TEMPLATE, 'utf8')
    const used = [...template.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1])
    const env = environmentOf(gateway)
    for (const name of new Set(used))
      expect(env, `\${${name}} in the template`).toHaveProperty(name as string)
    expect(env.GATEWAY_PORT).toBe('8080')
    expect(env.INGEST_API_ADDR).toBe(`ingest-api:${environmentOf(service('ingest-api')).HTTP_PORT}`)
    expect(env.ANALYTICS_API_ADDR).toBe(`analytics-api:${environmentOf(service('analytics-api')).HTTP_PORT}`)
  })
})

describe('observability profile', () => {
  it('Prometheus scrapes the three services on their metrics ports and loads the alert rules', async () => {
    const prometheus = service('prometheus', observability)
    const mount = (prometheus.volumes ?? []).find((m: { target: string }) => m.target === '/etc/prometheus')
    expect(hostPath(mount.source)).toBe('deploy/observability/prometheus')
    const args = prometheus.command as string[]
    const configPath = args.find((a) => a.startsWith('--config.file='))?.split('=')[1] as string
    const local = (path: string) => join(mount.source, relative('/etc/prometheus', path))
    const config = parseYaml(await readFile(local(configPath), 'utf8')) as {
      rule_files: string[]
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]
    }
    for (const name of SERVICES) {
      const job = config.scrape_configs.find((j) => j.job_name === name)
      expect(
        job?.static_configs.flatMap((c) => c.targets),
        name,
      ).toEqual([`${name}:${environmentOf(service(name)).METRICS_PORT}`])
    }
    // The rule_files globs match the files deploy-lint validated (and the checks hold to real metrics).
    const ruleFiles = new Set(rules.map((r) => r.file))
    for (const pattern of config.rule_files) {
      const dir = local(dirname(pattern))
      const glob = new RegExp(`^${basename(pattern).replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`)
      const matched = (await readdir(dir)).filter((f) => glob.test(f))
      expect(matched.length, pattern).toBeGreaterThan(0)
      for (const f of matched) expect(ruleFiles).toContain(join(dir, f))
    }
  })

  it('Grafana provisions the Prometheus datasource and the dashboard', async () => {
    const grafana = service('grafana', observability)
    const mounts = (grafana.volumes ?? []) as { source: string; target: string }[]
    const provisioning = mounts.find((m) => m.target === '/etc/grafana/provisioning')
    expect(hostPath(provisioning?.source as string)).toBe('deploy/observability/grafana/provisioning')
    const datasources = parseYaml(
      await readFile(join(observabilityDir, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: { uid: string; type: string; url: string }[] }
    const [datasource] = datasources.datasources
    expect(datasource?.type).toBe('prometheus')
    expect(datasource?.url).toBe(`http://prometheus:${9090}`)
    const providers = parseYaml(
      await readFile(join(observabilityDir, 'grafana/provisioning/dashboards/ad-tracking.yml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] }
    const dashboards = mounts.find((m) => m.target === providers.providers[0]?.options.path)
    expect(dashboards, 'the provider reads a mounted folder').toBeDefined()
    expect(existsSync(join(dashboards?.source as string, 'ad-tracking.json'))).toBe(true)
    const home = environmentOf(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string
    expect(existsSync(join(dashboards?.source as string, relative(dashboards?.target as string, home)))).toBe(
      true,
    )
    // Every panel queries that datasource.
    for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe(datasource?.uid)
      for (const t of panel.targets)
        expect(t.datasource?.uid ?? datasource?.uid, panel.title).toBe(datasource?.uid)
    }
  })
})

describe('dashboard and alert rules (the metrics they name are checked against real scrapes in images.integration.test.ts)', () => {
  it('the dashboard: unique ids, a 24-column layout, and every query parses as PromQL', async () => {
    expect(dashboard.uid).toBe('ad-tracking')
    const panels = allPanels(dashboard)
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      if (p.type !== 'row') expect(p.targets.length, p.title).toBeGreaterThan(0)
    }
    const parsed = await parseQueries(dashboardQueries(dashboard))
    expect(parsed.filter((q) => q.error).map((q) => `${q.where}: ${q.error}`)).toEqual([])
    // What the issue asks the dashboard to show, each by a panel title.
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n')
    for (const topic of [
      'clicks accepted',
      'tracking events accepted',
      'refused with 503',
      'rate limited (429)',
      'ingest latency',
      'kafka produce errors',
      'breaker',
      'spool depth',
      'batches per second',
      'batch duration',
      'end-to-end delay',
      'postgresql and redis',
      'dead letters',
      'memory against limit',
      'event-loop delay',
      'postgresql connections',
      'replicas',
    ])
      expect(titles).toContain(topic)
  })

  it('the dashboard: namespace and pod variables every service query uses, one unit per panel, both click routes, 503 apart from 429', () => {
    const variables = (dashboard.templating?.list ?? []) as { name: string; allValue?: string }[]
    expect(variables.map((v) => v.name)).toEqual(['namespace', 'pod'])
    // All must match series without the label too (Compose has no namespace or pod).
    for (const v of variables) expect(v.allValue, v.name).toBe('.*')
    for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      // One unit per panel: rates are never drawn against gauges or states on one axis.
      expect(panel.fieldConfig?.defaults?.unit, panel.title).toBeTruthy()
      expect(panel.fieldConfig?.overrides ?? [], panel.title).toEqual([])
      expect(panel.description, panel.title).toBeTruthy()
      for (const t of panel.targets as { expr: string }[])
        if (/service="/.test(t.expr))
          for (const selector of t.expr.match(/\{[^}]*service="[^}]*\}/g) ?? [])
            expect(selector, panel.title).toMatch(/namespace=~"\$namespace", pod=~"\$pod"/)
    }
    const exprs = dashboardQueries(dashboard).map((q) => q.expr)
    expect(exprs.some((e) => e.includes('clicks_accepted_total'))).toBe(true)
    expect(exprs.some((e) => /route=~"\/ads\/click\|\/ads\/clicks/.test(e))).toBe(true)
    // No query counts clicks from one route's status codes any more.
    expect(exprs.filter((e) => e.includes('route="/ads/click"'))).toEqual([])
    const refused = allPanels(dashboard).filter((p) => /refused|rate limited/i.test(p.title))
    for (const p of refused)
      for (const t of p.targets as { expr: string }[])
        if (t.expr.includes('clicks_refused_total'))
          expect(t.expr, p.title).toMatch(/reason(!=|=)"rate_limited"/)
  })

  it('the alert rules load as Prometheus loads them, and each has a severity and a summary', () => {
    const alerts = rules.map((r) => r.alert)
    for (const wanted of [
      'ServiceDown',
      'ServiceNotScraped',
      'ClickBacklogGrowing',
      'SpoolNotDraining',
      'KafkaBreakerOpen',
      'High5xxRate',
      'NoClicks',
      'DeadLetters',
      'ReconciliationDrift',
      'AdCatalogStale',
      'AutoscalerAtMaximum',
    ])
      expect(alerts).toContain(wanted)
    const byName = (name: string) => rules.find((r) => r.alert === name) as Rule
    // Batch clients count: the click alerts read clicks_accepted_total (both routes), not one route's 202s.
    for (const name of ['ClickBacklogGrowing', 'NoClicks'])
      expect(
        byName(name).selectors.map((s) => s.metric),
        name,
      ).toContain('clicks_accepted_total')
    // A scrape in half-open must not reset a breaker alert.
    for (const name of ['KafkaBreakerOpen', 'WorkerStoresBreakerOpen'])
      expect(byName(name).expr, name).toMatch(/(max|min)_over_time\(/)
    // Ratios only above a minimum of traffic.
    for (const name of ['High5xxRate', 'ClicksRefused', 'ClickBacklogGrowing', 'TrackingTokensRefused'])
      expect(byName(name).expr, name).toMatch(/\n\s*and (on \(\))?[\s\S]*> (1|0\.1)\s*$/)
    expect(byName('ServiceNotScraped').expr).toMatch(/absent\(/)
    for (const r of rules) {
      expect(r.error, r.alert).toBeUndefined()
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity)
      expect(r.annotations?.summary, r.alert).toBeTruthy()
    }
  })

  it('pending.yml: every expression parses, and names at least one pending metric', async () => {
    const pending = await loadPending()
    const parsed = await parseQueries(pendingQueries(pending))
    const names = new Set(pending.metrics.map((m) => m.name))
    for (const q of parsed) {
      expect(q.error, q.where).toBeUndefined()
      expect(
        q.selectors.some((s) => names.has(s.metric)),
        q.where,
      ).toBe(true)
    }
  })
})
