import { readFile } from 'node:fs/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { get, OVERLAYS, type Overlay, type Rendered, render } from './k8s.js'
import { dashboardCopy, monitoringFiles } from './monitoring.js'
import { dashboardFile, readRuleGroups, ruleFiles } from './observability.js'
import { SERVICES } from './paths.js'

// deploy/k8s/components/monitoring in both overlays: the Prometheus Operator's objects scrape the three
// services under the job names the alerts use, and carry exactly the rules and dashboard of
// deploy/observability (generated copies, checked here). Their schemas are checked with every other
// object in k8s.integration.test.ts.

const rendered = {} as Record<Overlay, Rendered>

beforeAll(async () => {
  const [dev, prod] = await Promise.all(OVERLAYS.map((o) => render(`overlays/${o}`)))
  Object.assign(rendered, { dev, prod })
}, 20 * 60_000)

describe('the generated copies', () => {
  it('prometheus-rule.yaml and ad-tracking.json are what `cli.js monitoring` writes from deploy/observability', async () => {
    for (const [path, text] of Object.entries(await monitoringFiles()))
      expect(
        await readFile(path, 'utf8'),
        `${path}: run node tools/deploy-checks/dist/cli.js monitoring`,
      ).toBe(text)
    expect(await readFile(dashboardCopy, 'utf8')).toBe(await readFile(dashboardFile, 'utf8'))
  })
})

describe.each(OVERLAYS)('%s overlay: monitoring', (overlay) => {
  const objects = () => rendered[overlay].objects

  it('scrapes the metrics port of each service with job = its app.kubernetes.io/name', () => {
    const monitor = get(objects(), 'ServiceMonitor', 'ad-tracking')
    expect(monitor.spec.jobLabel).toBe('app.kubernetes.io/name')
    const [endpoint, ...more] = monitor.spec.endpoints
    expect(more).toEqual([])
    expect(endpoint).toMatchObject({ port: 'metrics', path: '/metrics', honorLabels: true })
    const selects = (labels: Record<string, string> = {}) =>
      Object.entries(monitor.spec.selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (monitor.spec.selector.matchExpressions ?? []).every(
        (e: { key: string; operator: string; values: string[] }) =>
          e.operator === 'In' && e.values.includes(labels[e.key] as string),
      )
    const scraped = objects()
      .filter((o) => o.kind === 'Service' && selects(o.metadata.labels))
      .filter((o) => o.spec.ports.some((p: { name: string }) => p.name === 'metrics'))
    // One Service per service, so no pod is scraped twice; its job label is the service's name.
    expect(scraped.map((s) => s.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(
      [...SERVICES].sort(),
    )
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual([...SERVICES].sort())
  })

  it('carries every alert rule of deploy/observability in a PrometheusRule, unchanged', async () => {
    const rule = get(objects(), 'PrometheusRule', 'ad-tracking')
    expect(rule.spec.groups).toEqual(await readRuleGroups(await ruleFiles()))
  })

  it("carries the dashboard in a ConfigMap for Grafana's sidecar", async () => {
    const cm = get(objects(), 'ConfigMap', 'ad-tracking-dashboard')
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1')
    expect(JSON.parse(cm.data['ad-tracking.json'])).toEqual(JSON.parse(await readFile(dashboardFile, 'utf8')))
  })
})
