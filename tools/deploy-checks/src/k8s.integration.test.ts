import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { prodExternalSecrets } from './external-secrets.js'
import { httpRouteRoutes, ingressFile, loadRouteTable, routeFor, routeKeys } from './gateway-routes.js'
import {
  containerEnvironment,
  durationSeconds,
  find,
  get,
  OVERLAYS,
  type Overlay,
  podTemplate,
  quantityBytes,
  type Rendered,
  readManifests,
  render,
  secretFile,
  validate,
  workloadOf,
  workloads,
} from './k8s.js'
import { connectivity, type Endpoint, workloadEndpoints } from './network-policy.js'
import { k8sDir, SERVICES, type ServiceName } from './paths.js'
import { checkServiceEnvironment } from './service-config.js'

// deploy/k8s, rendered with kustomize and checked offline: every object against the Kubernetes API
// schemas (two versions) and the CRDs of KEDA, the Prometheus Operator, the Gateway API and CloudNativePG,
// then what the schemas cannot see: probes, shutdown timing, security, configuration the services really
// read, migrations before serving, spreading, autoscaling wired to the real topic, group and metrics,
// routing, and who may talk to whom.

const NAMESPACE: Record<Overlay, string> = { dev: 'ad-tracking-dev', prod: 'ad-tracking' }
const rendered = {} as Record<Overlay | 'base', Rendered>
let secretTemplate: Rendered
let ingressComponent: Rendered

let kafkaUsers: Rendered

/** Secrets the prod overlay reads but does not create: the template's, CloudNativePG's, the Access Operator's. */
function externalSecrets(overlay: Overlay): Record<string, Record<string, string>> {
  if (overlay === 'dev') return {}
  return prodExternalSecrets(secretTemplate.objects, kafkaUsers.objects)
}

beforeAll(async () => {
  // The first run installs kustomize, kubeconform and the schemas (a minute or two); later runs reuse them.
  const [base, dev, prod] = await Promise.all([
    render('base'),
    render('overlays/dev'),
    render('overlays/prod'),
  ])
  Object.assign(rendered, { base, dev, prod })
  secretTemplate = await readManifests(join(k8sDir, 'secret.template.yaml'))
  kafkaUsers = await readManifests(join(k8sDir, 'data-tier/kafka-users.yaml'))
  ingressComponent = await readManifests(ingressFile)
}, 20 * 60_000)

describe('schemas', () => {
  it('every object of base, dev and prod, the Secret template and the Ingress option is valid for Kubernetes and its CRDs (KEDA, Prometheus Operator, Gateway API, CloudNativePG)', async () => {
    const inputs = {
      base: rendered.base.yaml,
      dev: rendered.dev.yaml,
      prod: rendered.prod.yaml,
      'secret.template.yaml': secretTemplate.yaml,
      'components/ingress/ingress.yaml': ingressComponent.yaml,
    }
    const counts = {
      base: rendered.base.objects.length,
      dev: rendered.dev.objects.length,
      prod: rendered.prod.objects.length,
      'secret.template.yaml': secretTemplate.objects.length,
      'components/ingress/ingress.yaml': ingressComponent.objects.length,
    }
    for (const result of await validate(inputs)) {
      expect(result.problems, `Kubernetes ${result.kubernetesVersion}`).toEqual([])
      expect(result.valid, `Kubernetes ${result.kubernetesVersion}`).toEqual(counts)
    }
  })

  it('the Secret template holds every key the overlays read from it', () => {
    const keys = Object.keys(get(secretTemplate.objects, 'Secret', 'ad-tracking-secrets').stringData).sort()
    const read = new Set<string>()
    for (const overlay of OVERLAYS)
      for (const w of workloads(rendered[overlay].objects))
        for (const c of podTemplate(w).spec.containers)
          for (const e of c.env ?? [])
            if (e.valueFrom?.secretKeyRef?.name?.startsWith('ad-tracking-secrets'))
              read.add(e.valueFrom.secretKeyRef.key)
    expect(keys).toEqual([...read].sort())
  })
})

describe.each(OVERLAYS)('%s overlay', (overlay) => {
  const objects = () => rendered[overlay].objects
  const namespace = NAMESPACE[overlay]
  const container = (service: ServiceName) => {
    const template = podTemplate(workloadOf(objects(), service))
    return { template, container: template.spec.containers.find((c: { name: string }) => c.name === service) }
  }
  const environment = (c: unknown) => {
    const { env, problems } = containerEnvironment(objects(), c, externalSecrets(overlay))
    expect(problems).toEqual([])
    return env
  }

  it('puts everything in one namespace that enforces the restricted Pod Security Standard', () => {
    const ns = get(objects(), 'Namespace', namespace)
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted')
    for (const o of objects().filter((o) => o.kind !== 'Namespace'))
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace)
  })

  it('runs every pod as non-root, read-only, unprivileged, without capabilities, with RuntimeDefault seccomp', () => {
    // Development's Kafka image writes its generated configuration into its own filesystem at start.
    const writableRoot = overlay === 'dev' ? ['kafka'] : []
    for (const w of workloads(objects())) {
      const { spec } = podTemplate(w)
      const where = `${w.kind}/${w.metadata.name}`
      expect(spec.securityContext?.runAsNonRoot, where).toBe(true)
      expect(spec.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault')
      expect(spec.automountServiceAccountToken, where).toBe(false)
      expect(spec.hostNetwork ?? false, where).toBe(false)
      expect(spec.enableServiceLinks, where).toBe(false)
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const sc = c.securityContext ?? {}
        expect(sc.allowPrivilegeEscalation, `${where} ${c.name}`).toBe(false)
        expect(sc.privileged ?? false, `${where} ${c.name}`).toBe(false)
        expect(sc.capabilities?.drop, `${where} ${c.name}`).toContain('ALL')
        expect(sc.capabilities?.add ?? [], `${where} ${c.name}`).toEqual([])
        expect(sc.readOnlyRootFilesystem, `${where} ${c.name}`).toBe(!writableRoot.includes(w.metadata.name))
        if (sc.readOnlyRootFilesystem && SERVICES.includes(w.metadata.name as ServiceName))
          expect(
            (c.volumeMounts ?? []).map((m: { mountPath: string }) => m.mountPath),
            `${where}: a writable /tmp`,
          ).toContain('/tmp')
        expect(c.resources?.requests?.cpu, `${where} ${c.name} cpu request`).toBeDefined()
        expect(c.resources?.requests?.memory, `${where} ${c.name} memory request`).toBeDefined()
        expect(c.resources?.limits?.memory, `${where} ${c.name} memory limit`).toBeDefined()
        expect(quantityBytes(c.resources.limits.memory)).toBeGreaterThanOrEqual(
          quantityBytes(c.resources.requests.memory),
        )
      }
      for (const v of spec.volumes ?? []) expect(v.hostPath, `${where} volume ${v.name}`).toBeUndefined()
    }
  })

  it.each(SERVICES)('%s: probes, ports, graceful shutdown, Service and PodDisruptionBudget', (service) => {
    const { template, container: c } = container(service)
    const env = environment(c)
    const ports = Object.fromEntries(
      c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    )
    expect(ports.metrics).toBe(Number(env.METRICS_PORT ?? 2112))
    if (service !== 'click-worker') expect(ports.http).toBe(Number(env.HTTP_PORT ?? 8080))
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/livez', port: 'metrics' })
    expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' })
    expect(c.startupProbe?.httpGet).toMatchObject({ path: '/livez', port: 'metrics' })

    // SIGTERM comes after preStop; the service then has SHUTDOWN_TIMEOUT to drain, and Kubernetes must not
    // SIGKILL it before that: the grace period covers both, with a little room, and not much more.
    const shutdown = durationSeconds(env.SHUTDOWN_TIMEOUT ?? '20s')
    const preStop = c.lifecycle?.preStop?.exec?.command
    const preStopSeconds = preStop ? Number(preStop[1]) : 0
    if (service !== 'click-worker') {
      // The APIs keep serving while the Ingress and kube-proxy stop sending them requests.
      expect(preStop?.[0]).toBe('sleep')
      expect(preStopSeconds).toBeGreaterThanOrEqual(3)
    }
    const grace = template.spec.terminationGracePeriodSeconds
    expect(grace).toBeGreaterThanOrEqual(preStopSeconds + shutdown + 2)
    expect(grace).toBeLessThanOrEqual(preStopSeconds + shutdown + 15)

    const labels = template.metadata.labels
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v)
    const svc = get(objects(), 'Service', service)
    expect(selects(svc.spec.selector)).toBe(true)
    const servicePorts = svc.spec.ports.map((p: { name: string; targetPort: string }) => [
      p.name,
      p.targetPort,
    ])
    expect(servicePorts).toContainEqual(['metrics', 'metrics'])
    if (service !== 'click-worker') expect(servicePorts).toContainEqual(['http', 'http'])
    const pdb = get(objects(), 'PodDisruptionBudget', service)
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true)
    // Never 0: a budget that allows no disruption blocks node drains.
    expect(pdb.spec.maxUnavailable ?? 1).toBeGreaterThan(0)
  })

  it.each(SERVICES)('%s: reads every variable it is given, and accepts their values', (service) => {
    const env = environment(container(service).container)
    expect(checkServiceEnvironment(service, env)).toEqual([])
  })

  it('scales analytics-api on CPU (HPA), ingest-api on its request rate and the worker on consumer lag (KEDA)', () => {
    const hpa = get(objects(), 'HorizontalPodAutoscaler', 'analytics-api')
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'analytics-api',
    })
    expect(hpa.spec.metrics).toContainEqual({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } },
    })
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas)
    const hpaTargets = objects()
      .filter((o) => o.kind === 'HorizontalPodAutoscaler')
      .map((o) => o.spec.scaleTargetRef.name)
    expect(hpaTargets, 'no HPA of ours beside KEDA’s: KEDA makes its own').toEqual(['analytics-api'])
    for (const service of SERVICES)
      expect(
        workloadOf(objects(), service).spec.replicas,
        `${service}: the autoscaler owns the count`,
      ).toBeUndefined()

    // ingest-api waits on Kafka's acknowledgements, not the CPU: scaled on requests per second per pod,
    // from the series the service exports, in this overlay's namespace.
    const ingest = get(objects(), 'ScaledObject', 'ingest-api')
    const target = workloadOf(objects(), 'ingest-api')
    expect(ingest.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: target.kind,
      name: 'ingest-api',
    })
    expect(ingest.spec.triggers).toHaveLength(1)
    const [rate] = ingest.spec.triggers
    expect(rate.type).toBe('prometheus')
    expect(rate.metricType ?? 'AverageValue').toBe('AverageValue')
    expect(rate.metadata.serverAddress).toMatch(/^https?:\/\//)
    expect(rate.metadata.query).toMatch(
      /^sum\(rate\((http_requests_total|clicks_accepted_total|tracking_events_accepted_total)\{/,
    )
    expect(rate.metadata.query).toContain(`namespace="${namespace}"`)
    expect(rate.metadata.query).toContain('service="ingest-api"')
    expect(Number(rate.metadata.threshold)).toBeGreaterThan(0)
    expect(ingest.spec.minReplicaCount).toBeGreaterThanOrEqual(1)
    expect(ingest.spec.minReplicaCount).toBeLessThanOrEqual(ingest.spec.maxReplicaCount)

    const scaled = get(objects(), 'ScaledObject', 'click-worker')
    const env = environment(container('click-worker').container)
    expect(workloadOf(objects(), 'click-worker').kind).toBe('Deployment')
    expect(scaled.spec.scaleTargetRef.name).toBe('click-worker')
    expect(scaled.spec.triggers).toHaveLength(1)
    const [trigger] = scaled.spec.triggers
    expect(trigger.type).toBe('kafka')
    expect(trigger.metadata).toMatchObject({
      bootstrapServers: env.KAFKA_BROKERS,
      topic: env.KAFKA_TOPIC,
      consumerGroup: env.KAFKA_GROUP_ID,
      // The worker starts a new group at the beginning of the topic.
      offsetResetPolicy: 'earliest',
    })
    expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0)
    // More workers than partitions would sit idle: the ceiling is the partition count.
    expect(scaled.spec.maxReplicaCount).toBe(Number(env.KAFKA_TOPIC_PARTITIONS))
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1)
    // ingest-api creates the topic with the same partitions, if it starts first.
    expect(environment(container('ingest-api').container).KAFKA_TOPIC_PARTITIONS).toBe(
      env.KAFKA_TOPIC_PARTITIONS,
    )
  })

  it('gives every autoscaler both directions’ behaviour, and KEDA a fallback and an activation threshold', () => {
    const behaviours = [
      ...objects()
        .filter((o) => o.kind === 'HorizontalPodAutoscaler')
        .map((o) => [o.metadata.name, o.spec.behavior]),
      ...objects()
        .filter((o) => o.kind === 'ScaledObject')
        .map((o) => [o.metadata.name, o.spec.advanced?.horizontalPodAutoscalerConfig?.behavior]),
    ]
    expect(behaviours).toHaveLength(3)
    for (const [name, behavior] of behaviours) {
      expect(behavior?.scaleUp?.policies?.length, `${name} scaleUp`).toBeGreaterThan(0)
      expect(behavior?.scaleDown?.policies?.length, `${name} scaleDown`).toBeGreaterThan(0)
      // Scale-down waits out a dip: every leaving pod drains (ingest-api's spool) or hands over partitions.
      expect(behavior.scaleDown.stabilizationWindowSeconds, `${name}`).toBeGreaterThanOrEqual(60)
    }
    for (const scaled of objects().filter((o) => o.kind === 'ScaledObject')) {
      const { fallback, minReplicaCount, maxReplicaCount } = scaled.spec
      const where = scaled.metadata.name
      expect(fallback?.failureThreshold, where).toBeGreaterThan(0)
      expect(fallback?.replicas, where).toBeGreaterThanOrEqual(minReplicaCount)
      expect(fallback?.replicas, where).toBeLessThanOrEqual(maxReplicaCount)
      // A metric that cannot be read never scales a service down.
      expect(fallback?.behavior, where).toBe('currentReplicasIfHigher')
      // KEDA's fallback works only for AverageValue triggers.
      for (const trigger of scaled.spec.triggers) {
        expect(trigger.metricType ?? 'AverageValue', where).toBe('AverageValue')
        const activation = trigger.metadata.activationThreshold ?? trigger.metadata.activationLagThreshold
        expect(Number(activation), `${where} activation threshold`).toBeGreaterThan(0)
      }
    }
  })

  it.each(SERVICES)('%s: spreads over nodes strictly and over zones', (service) => {
    const { template } = container(service)
    const constraints = template.spec.topologySpreadConstraints as {
      topologyKey: string
      whenUnsatisfiable: string
      maxSkew: number
      labelSelector: { matchLabels: Record<string, string> }
    }[]
    const byKey = Object.fromEntries(constraints.map((c) => [c.topologyKey, c]))
    expect(Object.keys(byKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone'])
    expect(constraints).toHaveLength(2)
    for (const c of constraints) {
      expect(c.maxSkew).toBe(1)
      expect(c.labelSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': service })
    }
    expect(byKey['kubernetes.io/hostname']?.whenUnsatisfiable).toBe('DoNotSchedule')
    // Strict zones in production, except for ingest-api, whose spool volume is bound to its zone.
    expect(byKey['topology.kubernetes.io/zone']?.whenUnsatisfiable).toBe(
      overlay === 'prod' && service !== 'ingest-api' ? 'DoNotSchedule' : 'ScheduleAnyway',
    )
  })

  it('gives ingest-api a spool volume at SPOOL_DIR, larger than SPOOL_MAX_BYTES', () => {
    const { template, container: c } = container('ingest-api')
    const env = environment(c)
    const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === env.SPOOL_DIR)
    expect(mount, `a volume mounted at SPOOL_DIR=${env.SPOOL_DIR}`).toBeDefined()
    const maxBytes = Number(env.SPOOL_MAX_BYTES ?? 268_435_456)
    const workload = workloadOf(objects(), 'ingest-api')
    const volume = template.spec.volumes.find((v: { name: string }) => v.name === mount.name)
    const claim = (workload.spec.volumeClaimTemplates ?? []).find(
      (t: { metadata: { name: string } }) => t.metadata.name === mount.name,
    )
    if (overlay === 'prod') {
      // Spooled clicks were answered 202: in production they must outlive the pod.
      expect(workload.kind).toBe('StatefulSet')
      expect(volume, 'the spool is a claim, not also a pod volume').toBeUndefined()
      expect(quantityBytes(claim.spec.resources.requests.storage)).toBeGreaterThan(maxBytes)
      expect(workload.spec.persistentVolumeClaimRetentionPolicy?.whenScaled).toBe('Retain')
      expect(find(objects(), 'Service', workload.spec.serviceName)?.spec.clusterIP).toBe('None')
    } else {
      expect(volume?.emptyDir, 'an emptyDir spool').toBeDefined()
      expect(quantityBytes(volume.emptyDir.sizeLimit)).toBeGreaterThan(maxBytes)
    }
  })

  it('serves the public API on one host through the Gateway API: the routes of deploy/routes.yaml and no other', async () => {
    expect(objects().filter((o) => o.kind === 'Ingress')).toEqual([])
    const gateway = get(objects(), 'Gateway', 'ad-tracking')
    const route = get(objects(), 'HTTPRoute', 'ad-tracking')
    const listener = (name: string) => gateway.spec.listeners.find((l: { name: string }) => l.name === name)
    const [parent] = route.spec.parentRefs
    expect(route.spec.parentRefs).toHaveLength(1)
    expect(parent.name).toBe('ad-tracking')
    expect(listener(parent.sectionName), `listener ${parent.sectionName}`).toBeDefined()
    expect(listener(parent.sectionName).hostname).toBe(
      overlay === 'dev' ? 'ads.localtest.me' : 'ads.example.com',
    )
    // Production serves the API over HTTPS only; plain HTTP redirects.
    expect(listener(parent.sectionName).protocol).toBe(overlay === 'dev' ? 'HTTP' : 'HTTPS')
    if (overlay === 'prod') {
      const redirect = get(objects(), 'HTTPRoute', 'ad-tracking-https-redirect')
      expect(redirect.spec.parentRefs).toEqual([{ name: 'ad-tracking', sectionName: 'http' }])
      expect(redirect.spec.rules).toEqual([
        { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] },
      ])
    }
    const publicRoutes = (await loadRouteTable()).filter((r) => !r.local)
    const routes = httpRouteRoutes(route as never)
    expect(routeKeys(routes)).toEqual(routeKeys(publicRoutes))
    for (const path of ['/docs', '/livez', '/readyz', '/metrics', '/'])
      expect(routeFor(routes, path), path).toBeUndefined()
    // Gateway API backends name a port number: the Service's http port.
    for (const rule of route.spec.rules)
      for (const ref of rule.backendRefs) {
        const svc = get(objects(), 'Service', ref.name)
        const http = svc.spec.ports.find((p: { name: string }) => p.name === 'http')
        expect(ref.port, ref.name).toBe(http.port)
      }
  })

  it('migrates the schema before each service starts: an init container with the db CLI of its own image', () => {
    expect(
      objects().filter((o) => o.kind === 'Job'),
      'no migration Job to delete on every release',
    ).toEqual([])
    for (const service of SERVICES) {
      const { template, container: c } = container(service)
      const [migrate, ...others] = template.spec.initContainers
      expect(others).toEqual([])
      expect(migrate.name).toBe('migrate')
      expect(migrate.image).toBe(c.image)
      expect(migrate.command, 'args keep the image entrypoint (tini)').toBeUndefined()
      expect(migrate.args).toEqual([
        'node',
        'node_modules/@adtrack/db/dist/cli.js',
        overlay === 'dev' ? 'setup' : 'migrate',
      ])
      const env = environment(migrate)
      // prod: the URL names the host to verify, the password comes apart from it (as the service's does).
      expect(Object.keys(env).sort()).toEqual(
        overlay === 'dev' ? ['DATABASE_URL'] : ['DATABASE_PASSWORD', 'DATABASE_URL'],
      )
      expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//)
      // The schema the service will use: the same database as the same user.
      const migrateUrl = new URL(env.DATABASE_URL ?? '')
      const serviceUrl = new URL(environment(c).DATABASE_URL ?? '')
      expect([migrateUrl.username, migrateUrl.pathname]).toEqual([serviceUrl.username, serviceUrl.pathname])
      if (overlay === 'prod') {
        // TRICKY: the service goes through the PgBouncer Pooler, the migration straight to the primary:
        // its session advisory lock would not survive transaction pooling (data-tier.integration.test.ts
        // checks the same for every container that migrates).
        expect(serviceUrl.hostname.split('.')[0]).toBe('ad-tracking-pg-pooler-rw')
        expect(migrateUrl.hostname.split('.')[0]).toBe('ad-tracking-pg-rw')
      } else {
        expect(env.DATABASE_URL).toBe(environment(c).DATABASE_URL)
      }
      // An init container that never exits would keep the pod from starting: it must end on its own
      // (no restartPolicy: Always, which would make it a sidecar).
      expect(migrate.restartPolicy).toBeUndefined()
    }
  })

  it('gives every environment variable a value or a valueFrom, never both (the API server refuses both)', () => {
    for (const w of workloads(objects()))
      for (const c of [...(podTemplate(w).spec.initContainers ?? []), ...podTemplate(w).spec.containers])
        for (const e of c.env ?? [])
          expect(
            [e.value, e.valueFrom].filter((v) => v !== undefined),
            `${w.metadata.name}/${c.name} ${e.name}`,
          ).toHaveLength(1)
  })

  it('runs one release: the three services and their migrations use the same image tag', () => {
    const images = workloads(objects())
      .filter((w) => (SERVICES as readonly string[]).includes(w.metadata.name))
      .flatMap((w) =>
        [...podTemplate(w).spec.initContainers, ...podTemplate(w).spec.containers].map(
          (c: { image: string }) => c.image,
        ),
      )
    expect(images).toHaveLength(6)
    const tags = new Set(images.map((i: string) => i.split(':')[1]))
    expect(tags.size).toBe(1)
    expect([...tags][0]).toMatch(overlay === 'dev' ? /^dev$/ : /^\d+\.\d+\.\d+$/)
  })

  it('lets each pod reach only what it needs (NetworkPolicies, evaluated)', () => {
    const policies = objects().filter((o) => o.kind === 'NetworkPolicy')
    const outside = (
      name: string,
      ns: string,
      labels: Record<string, string>,
      ports: Record<string, number>,
    ): Endpoint => ({
      name,
      namespace: ns,
      namespaceLabels: { 'kubernetes.io/metadata.name': ns },
      labels,
      ports,
    })
    const endpoints: Endpoint[] = [
      ...workloadEndpoints(objects(), namespace),
      outside(
        'gateway',
        'envoy-gateway-system',
        { 'app.kubernetes.io/name': 'envoy', 'app.kubernetes.io/component': 'proxy' },
        { http: 10080 },
      ),
      outside('prometheus', 'monitoring', { 'app.kubernetes.io/name': 'prometheus' }, { web: 9090 }),
      outside('keda-operator', 'keda', { app: 'keda-operator' }, { metrics: 8080 }),
      { ...outside('kube-dns', 'kube-system', { 'k8s-app': 'kube-dns' }, { dns: 53 }), protocol: 'UDP' },
      { name: 'internet', ip: '203.0.113.10', ports: { http: 80, https: 443 } },
    ]
    const inNamespace = endpoints.filter((e) => e.namespace === namespace).map((e) => e.name)
    const dns = inNamespace.map((name) => `${name} -> kube-dns:53`)
    let expected: string[]
    if (overlay === 'dev') {
      expected = [
        'gateway -> ingest-api:8080',
        'gateway -> analytics-api:8080',
        'prometheus -> ingest-api:2112',
        'prometheus -> click-worker:2112',
        'prometheus -> analytics-api:2112',
        'ingest-api -> kafka:9092',
        'ingest-api -> postgres:5432',
        'ingest-api -> redis:6379',
        'click-worker -> kafka:9092',
        'click-worker -> postgres:5432',
        'click-worker -> redis:6379',
        'analytics-api -> postgres:5432',
        'analytics-api -> redis:6379',
        'keda-operator -> kafka:9092',
        ...dns,
      ]
    } else {
      const cnpg = outside(
        'cloudnativepg',
        namespace,
        { 'cnpg.io/cluster': 'ad-tracking-pg' },
        { postgres: 5432, status: 8000, metrics: 9187 },
      )
      endpoints.push(
        cnpg,
        outside(
          'cnpg-operator',
          'cnpg-system',
          { 'app.kubernetes.io/name': 'cloudnative-pg' },
          { metrics: 8080 },
        ),
        outside(
          'strimzi-kafka',
          'kafka',
          { 'strimzi.io/cluster': 'ad-tracking', 'strimzi.io/kind': 'Kafka' },
          // The brokers' replication port (9091) and the tls listener, and the old plaintext port: only the
          // tls listener may be reached.
          { replication: 9091, plain: 9092, tls: 9093 },
        ),
        { name: 'managed-redis', ip: '10.10.0.5', ports: { redis: 6379 } },
        { name: 'kube-apiserver', ip: '172.20.0.1', ports: { https: 443, alt: 6443 } },
      )
      expected = [
        'gateway -> ingest-api:8080',
        'gateway -> analytics-api:8080',
        'prometheus -> ingest-api:2112',
        'prometheus -> click-worker:2112',
        'prometheus -> analytics-api:2112',
        'prometheus -> cloudnativepg:9187',
        'ingest-api -> strimzi-kafka:9093',
        'ingest-api -> cloudnativepg:5432',
        'ingest-api -> managed-redis:6379',
        'click-worker -> strimzi-kafka:9093',
        'click-worker -> cloudnativepg:5432',
        'click-worker -> managed-redis:6379',
        'analytics-api -> cloudnativepg:5432',
        'analytics-api -> managed-redis:6379',
        'cnpg-operator -> cloudnativepg:8000',
        // Instances reach the Kubernetes API and object storage (backups) over HTTPS.
        'cloudnativepg -> kube-apiserver:443',
        'cloudnativepg -> kube-apiserver:6443',
        'cloudnativepg -> internet:443',
        ...dns,
        'cloudnativepg -> kube-dns:53',
      ]
    }
    expect(connectivity(policies, namespace, endpoints)).toEqual([...new Set(expected)].sort())
  })
})

describe('prod overlay: TLS to Kafka and PostgreSQL', () => {
  const objects = () => rendered.prod.objects
  const kafkaClients = ['ingest-api', 'click-worker'] as const
  type EnvEntry = { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
  const secretRef = (c: { env?: EnvEntry[] }, name: string) =>
    c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef

  it.each(kafkaClients)(
    '%s: reaches the brokers on 9093 over TLS with SCRAM-SHA-512, with its own credentials and the mounted cluster CA',
    (service) => {
      const { spec } = podTemplate(workloadOf(objects(), service))
      const c = spec.containers.find((x: { name: string }) => x.name === service)
      const { env, problems } = containerEnvironment(objects(), c, externalSecrets('prod'))
      expect(problems).toEqual([])
      for (const broker of (env.KAFKA_BROKERS ?? '').split(','))
        expect(broker, 'the tls listener').toMatch(/^[a-z0-9.-]+:9093$/)
      expect(env.KAFKA_TLS).toBe('true')
      expect(env.KAFKA_SASL_MECHANISM).toBe('scram-sha-512')
      // Name, password and CA from one Secret: the Access Operator's for this client's KafkaUser.
      const secret = secretRef(c, 'KAFKA_SASL_PASSWORD')?.name
      expect(secretRef(c, 'KAFKA_SASL_PASSWORD')).toEqual({ name: secret, key: 'password' })
      expect(secret).toBeDefined()
      expect(secretRef(c, 'KAFKA_SASL_USERNAME')).toEqual({ name: secret, key: 'username' })
      expect(secretFile(spec, c, env.KAFKA_TLS_CA_FILE ?? '')).toMatchObject({
        secretName: secret,
        key: 'ssl.truststore.crt',
      })
    },
  )

  it('gives each Kafka client, KEDA included, credentials of its own', () => {
    const scaled = get(objects(), 'ScaledObject', 'click-worker')
    const [trigger] = scaled.spec.triggers
    expect(trigger.metadata).toMatchObject({ tls: 'enable', sasl: 'scram_sha512' })
    const auth = get(objects(), 'TriggerAuthentication', trigger.authenticationRef.name)
    const params = Object.fromEntries(
      auth.spec.secretTargetRef.map((t: { parameter: string; name: string; key: string }) => [
        t.parameter,
        { name: t.name, key: t.key },
      ]),
    )
    const keda = params.password?.name
    expect(params).toEqual({
      username: { name: keda, key: 'username' },
      password: { name: keda, key: 'password' },
      ca: { name: keda, key: 'ssl.truststore.crt' },
    })
    const secrets = kafkaClients.map((service) => {
      const c = podTemplate(workloadOf(objects(), service)).spec.containers[0]
      return secretRef(c, 'KAFKA_SASL_PASSWORD')?.name
    })
    expect(new Set([...secrets, keda]).size).toBe(3)
  })

  it('connects every container to PostgreSQL with sslmode=verify-full against the mounted CloudNativePG CA, never its key', () => {
    let clients = 0
    for (const w of workloads(objects())) {
      const { spec } = podTemplate(w)
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const { env } = containerEnvironment(objects(), c, externalSecrets('prod'))
        if (!env.DATABASE_URL) continue
        clients++
        const where = `${w.metadata.name}/${c.name}`
        const url = new URL(env.DATABASE_URL)
        expect(url.searchParams.get('sslmode'), where).toBe('verify-full')
        const ca = secretFile(spec, c, url.searchParams.get('sslrootcert') ?? '')
        expect(ca, `${where}: sslrootcert`).toMatchObject({ secretName: 'ad-tracking-pg-ca', key: 'ca.crt' })
        // The Secret also holds the CA's private key (ca.key): project the certificate alone.
        expect(
          ca?.items?.map((i) => i.key),
          where,
        ).toEqual(['ca.crt'])
      }
    }
    // The three services and their three migration init containers.
    expect(clients).toBe(6)
  })
})

describe('base', () => {
  it('is what the overlays build on: the three services, no dependencies, no Secret, no routing', () => {
    const { objects } = rendered.base
    for (const service of SERVICES) expect(find(objects, 'Deployment', service)).toBeDefined()
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([])
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([])
    expect(objects.filter((o) => ['Ingress', 'HTTPRoute', 'Gateway'].includes(o.kind))).toEqual([])
  })

  it('names a release for every image, never latest (base, dev and prod)', () => {
    for (const which of ['base', ...OVERLAYS] as const)
      for (const w of workloads(rendered[which].objects))
        for (const c of [...(podTemplate(w).spec.initContainers ?? []), ...podTemplate(w).spec.containers]) {
          const tag = /:([^/@]+)(@sha256:[0-9a-f]{64})?$/.exec(c.image)?.[1]
          expect(tag, `${which} ${w.metadata.name} ${c.image}`).toBeDefined()
          expect(tag, `${which} ${w.metadata.name} ${c.image}`).not.toBe('latest')
        }
  })
})

describe('components/ingress, the option for clusters without the Gateway API', () => {
  it('routes the same table, to Services and ports that exist', async () => {
    const ingress = get(ingressComponent.objects, 'Ingress', 'ad-tracking')
    const publicRoutes = (await loadRouteTable()).filter((r) => !r.local)
    const paths = ingress.spec.rules[0].http.paths as {
      path: string
      pathType: string
      backend: { service: { name: string; port: { name: string } } }
    }[]
    expect(
      paths
        .map((p) => `${p.pathType === 'Exact' ? 'exact' : 'prefix'} ${p.path} -> ${p.backend.service.name}`)
        .sort(),
    ).toEqual(routeKeys(publicRoutes))
    for (const p of paths) {
      const svc = get(rendered.base.objects, 'Service', p.backend.service.name)
      expect(svc.spec.ports.map((x: { name: string }) => x.name)).toContain(p.backend.service.port.name)
    }
  })
})
