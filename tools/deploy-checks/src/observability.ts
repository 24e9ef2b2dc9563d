import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { observabilityDir, repoRoot } from './paths.js'
import { type Log, runChecked, stderrLog } from './run.js'
import { ensureDeployLint } from './tools.js'

export const dashboardFile = join(observabilityDir, 'grafana/dashboards/ad-tracking.json')
/** Rules on the services' own series: Compose's Prometheus and the PrometheusRule load them. */
export const rulesDir = join(observabilityDir, 'prometheus/rules')
/** Rules on kube-state-metrics series: the PrometheusRule only. */
export const kubernetesRulesDir = join(observabilityDir, 'prometheus/kubernetes')
export const pendingFile = join(observabilityDir, 'pending.yml')
export const externalSeriesFile = join(observabilityDir, 'external-series.yml')
export const runbooksFile = join(repoRoot, 'docs/runbooks.md')

/** A PromQL expression and where it is used. */
export interface Query {
  where: string
  expr: string
}

export interface Selector {
  metric: string
  matchers: { name: string; type: string; value: string }[]
}

export interface ParsedQuery extends Query {
  error?: string
  selectors: Selector[]
}

export interface Rule {
  file: string
  group: string
  alert?: string
  record?: string
  for?: string
  labels: Record<string, string> | null
  annotations: Record<string, string> | null
  expr: string
  error?: string
  selectors: Selector[]
}

export interface PendingMetric {
  name: string
  service: string
  type: string
  labels: string[]
  wanted: string
}

export interface Pending {
  metrics: PendingMetric[]
  panels: { title: string; row: string; unit: string; exprs: string[] }[]
  alerts: {
    alert: string
    expr: string
    for: string
    labels: Record<string, string>
    annotations: Record<string, string>
  }[]
}

// biome-ignore lint/suspicious/noExplicitAny: Grafana's dashboard model, checked field by field
export type Dashboard = Record<string, any>

export async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(dashboardFile, 'utf8')) as Dashboard
}

/** Every panel, including those inside collapsed rows. */
// biome-ignore lint/suspicious/noExplicitAny: see Dashboard
export function allPanels(dashboard: Dashboard): any[] {
  // biome-ignore lint/suspicious/noExplicitAny: see Dashboard
  return (dashboard.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])])
}

export function dashboardQueries(dashboard: Dashboard): Query[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t: { refId: string; expr: string }) => ({
      where: `dashboard panel "${panel.title}" query ${t.refId}`,
      expr: t.expr,
    })),
  )
}

export async function loadPending(): Promise<Pending> {
  return parseYaml(await readFile(pendingFile, 'utf8')) as Pending
}

export function pendingQueries(pending: Pending): Query[] {
  return [
    ...pending.panels.flatMap((p) => p.exprs.map((expr) => ({ where: `pending panel "${p.title}"`, expr }))),
    ...pending.alerts.map((a) => ({ where: `pending alert ${a.alert}`, expr: a.expr })),
  ]
}

/** Grafana's own variables, replaced by what they stand for at query time, so that PromQL parses. */
export function grafanaToPromql(expr: string): string {
  return (
    expr
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__interval', '15s')
      .replaceAll('$__range', '1h')
      // The dashboard's own variables (namespace, pod): in regex matchers, where All is `.*`.
      .replaceAll(/\$\{?[a-z]\w*\}?/g, '.*')
  )
}

/** Each expression's selectors, by Prometheus's own parser (deploy-lint promql). */
export async function parseQueries(queries: Query[], log: Log = stderrLog): Promise<ParsedQuery[]> {
  const lint = await ensureDeployLint(log)
  const out = JSON.parse(
    await runChecked(lint, ['promql'], {
      input: JSON.stringify(queries.map((q) => grafanaToPromql(q.expr))),
    }),
  ) as { error?: string; selectors: Selector[] }[]
  return queries.map((q, i) => ({ ...q, ...(out[i] as { error?: string; selectors: Selector[] }) }))
}

/** The rule files of a folder (both by default). */
export async function ruleFiles(dirs: string[] = [rulesDir, kubernetesRulesDir]): Promise<string[]> {
  const files: string[] = []
  for (const dir of dirs)
    files.push(
      ...(await readdir(dir))
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => join(dir, f)),
    )
  return files
}

/** The alerting rules as Prometheus loads them (deploy-lint rules: rulefmt), with their selectors. */
export async function loadRules(
  log: Log = stderrLog,
  dirs: string[] = [rulesDir, kubernetesRulesDir],
): Promise<Rule[]> {
  const lint = await ensureDeployLint(log)
  return JSON.parse(await runChecked(lint, ['rules', ...(await ruleFiles(dirs))])) as Rule[]
}

/** A rule file's groups as written (what a PrometheusRule's spec.groups holds). */
export interface RuleGroup {
  name: string
  rules: {
    alert?: string
    record?: string
    expr: string
    for?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }[]
}

export async function readRuleGroups(files: string[]): Promise<RuleGroup[]> {
  const groups: RuleGroup[] = []
  for (const file of files)
    groups.push(...(parseYaml(await readFile(file, 'utf8')) as { groups: RuleGroup[] }).groups)
  return groups
}

/** Series from other exporters (kube-state-metrics, CloudNativePG) a query may name: name -> labels. */
export async function loadExternalSeries(): Promise<Map<string, string[]>> {
  const file = parseYaml(await readFile(externalSeriesFile, 'utf8')) as {
    series: { name: string; labels: string[] }[]
  }
  return new Map(file.series.map((s) => [s.name, s.labels]))
}

// --- what the services export ------------------------------------------------------------------------

/** One scraped series name, the label names it carries and the values seen for each. */
export interface ExportedSeries {
  services: Set<string>
  labels: Map<string, Set<string>>
  /** The label sets of its samples. */
  samples: Map<string, string>[]
}

export interface Exposition {
  series: Map<string, ExportedSeries>
  /**
   * Per service, the labels on every one of its samples (a registry's default labels, such as
   * `service`): a metric with no samples yet will carry them too.
   */
  defaults: Map<string, Map<string, string>>
}

/**
 * The series names a set of /metrics scrapes (Prometheus text format) expose. A histogram or summary
 * family also stands for its _bucket, _sum and _count series even before it has observations, so a
 * labelled metric that has not been used yet still counts as exported (its labels then unknown).
 */
export function indexExposition(scrapes: Record<string, string>): Exposition {
  const index = new Map<string, ExportedSeries>()
  const defaults = new Map<string, Map<string, string>>()
  const entry = (name: string) => {
    let e = index.get(name)
    if (!e) {
      e = { services: new Set(), labels: new Map(), samples: [] }
      index.set(name, e)
    }
    return e
  }
  for (const [service, text] of Object.entries(scrapes)) {
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)/.exec(line)
      if (type) {
        const [, name, kind] = type as unknown as [string, string, string]
        const names =
          kind === 'histogram'
            ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
            : kind === 'summary'
              ? [name, `${name}_sum`, `${name}_count`]
              : [name]
        for (const n of names) entry(n).services.add(service)
        continue
      }
      if (line.startsWith('#') || line.trim() === '') continue
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line)
      if (!sample) continue
      const e = entry(sample[1] as string)
      e.services.add(service)
      const labels = new Map<string, string>()
      for (const m of (sample[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels.set(m[1] as string, (m[2] as string).replaceAll('\\"', '"').replaceAll('\\\\', '\\'))
      e.samples.push(labels)
      for (const [label, value] of labels) {
        if (!e.labels.has(label)) e.labels.set(label, new Set())
        e.labels.get(label)?.add(value)
      }
      const common = defaults.get(service)
      if (!common) defaults.set(service, labels)
      else for (const [label, value] of common) if (labels.get(label) !== value) common.delete(label)
    }
  }
  return { series: index, defaults }
}

/** Series Prometheus makes itself for every target, and the labels it gives every series it scrapes. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped'])
// In Kubernetes the Prometheus Operator adds namespace, pod, container, service and endpoint to every
// target; the dashboard's variables match namespace and pod (empty under Compose, where All matches).
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'endpoint'])

export interface MetricCheck {
  /** Each problem names the query and what is wrong with it. */
  problems: string[]
  /** Exported metrics the queries use. */
  used: string[]
  /** Pending metrics (pending.yml) the queries use that no service exports yet, with where. */
  pending: Map<string, string[]>
  /** Pending metrics that a service now exports: their panels and alerts can move in. */
  nowExported: string[]
}

/**
 * Holds queries to what the services really export: every selector must name a metric some service
 * exposes (or one Prometheus makes itself), every label it matches on must be on that metric, and an
 * equality match must name a value actually seen, when the metric has samples. Metrics listed in
 * pending.yml may appear only in pending queries (allowPending).
 */
export function checkQueries(
  queries: ParsedQuery[],
  exposition: Exposition,
  pending: Pending,
  allowPending: boolean,
  /** Series other exporters make, with their labels (external-series.yml); none unless given. */
  external: Map<string, string[]> = new Map(),
): MetricCheck {
  const index = exposition.series
  const problems: string[] = []
  const used = new Set<string>()
  const pendingUse = new Map<string, string[]>()
  const pendingNames = new Set(pending.metrics.map((m) => m.name))
  const pendingMetricOf = (series: string) =>
    [...pendingNames].find((n) => series === n || new RegExp(`^${n}_(bucket|sum|count)$`).test(series))
  for (const q of queries) {
    if (q.error) {
      problems.push(`${q.where}: does not parse: ${q.error}`)
      continue
    }
    for (const s of q.selectors) {
      if (!s.metric) {
        problems.push(`${q.where}: a selector without a metric name: ${q.expr}`)
        continue
      }
      if (PROMETHEUS_SERIES.has(s.metric)) {
        for (const m of s.matchers)
          if (!TARGET_LABELS.has(m.name)) problems.push(`${q.where}: ${s.metric} has no label ${m.name}`)
        continue
      }
      const exported = index.get(s.metric)
      const pendingName = pendingMetricOf(s.metric)
      const externalLabels = external.get(s.metric)
      if (!exported && externalLabels) {
        used.add(s.metric)
        for (const m of s.matchers)
          if (!TARGET_LABELS.has(m.name) && !externalLabels.includes(m.name))
            problems.push(`${q.where}: ${s.metric} has no label ${m.name} (external-series.yml)`)
        continue
      }
      if (!exported) {
        if (pendingName && allowPending) {
          const where = pendingUse.get(pendingName) ?? []
          if (!where.includes(q.where)) where.push(q.where)
          pendingUse.set(pendingName, where)
        } else if (pendingName) {
          problems.push(`${q.where}: ${s.metric} is not exported yet (pending.yml); keep this query there`)
        } else {
          problems.push(`${q.where}: no service exports ${s.metric}`)
        }
        continue
      }
      used.add(s.metric)
      // No samples yet (a labelled metric nothing has used): only the registry's default labels are known.
      const defaults = [...exported.services].map(
        (svc) => exposition.defaults.get(svc) ?? new Map<string, string>(),
      )
      for (const m of s.matchers) {
        if (TARGET_LABELS.has(m.name)) continue
        const values =
          exported.labels.get(m.name) ??
          (exported.labels.size === 0 && defaults.every((d) => d.has(m.name))
            ? new Set(defaults.map((d) => d.get(m.name) as string))
            : undefined)
        if (!values) {
          problems.push(
            exported.labels.size === 0
              ? `${q.where}: ${s.metric} has no samples in the scrape, so its label ${m.name} cannot be checked`
              : `${q.where}: ${s.metric} has no label ${m.name} (it has ${[...exported.labels.keys()].join(', ')})`,
          )
          continue
        }
        if (m.type === '=' && m.value !== '' && !values.has(m.value))
          problems.push(
            `${q.where}: ${s.metric}{${m.name}="${m.value}"} matches nothing scraped (seen: ${[...values].sort().join(', ')})`,
          )
      }
      // Together, the equality matchers must pick out a series that exists (each value may exist on its
      // own: status_code="200" on one route, route="/ads/click" with other codes). Other matchers may
      // rightly match nothing in a healthy run (5xx, refusals).
      const equal = s.matchers.filter((m) => m.type === '=' && m.value !== '' && !TARGET_LABELS.has(m.name))
      if (exported.samples.length > 0 && equal.length > 1) {
        const found = exported.samples.some((labels) => equal.every((m) => labels.get(m.name) === m.value))
        if (!found)
          problems.push(
            `${q.where}: no scraped ${s.metric} series has ${equal.map((m) => `${m.name}="${m.value}"`).join(', ')}`,
          )
      }
    }
  }
  const nowExported = [...pendingNames].filter(
    (n) => index.has(n) || index.has(`${n}_bucket`) || index.has(`${n}_count`),
  )
  return { problems, used: [...used].sort(), pending: pendingUse, nowExported }
}
