import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  containerEnvironment,
  durationSeconds,
  find,
  get,
  type K8sObject,
  OVERLAYS,
  type Overlay,
  podTemplate,
  quantityBytes,
  type Rendered,
  readManifests,
  render,
  validate,
  workloadOf,
  workloads,
} from './k8s.js'
import { connectivity, type Endpoint, workloadEndpoints } from './network-policy.js'
import { k8sDir, SERVICES, type ServiceName } from './paths.js'
import { checkServiceEnvironment } from './service-config.js'

// deploy/k8s, rendered with kustomize and checked offline: every object against the Kubernetes API
// schemas (two versions) and the CRDs of KEDA, the Prometheus Operator and CloudNativePG, then what the schemas cannot see: probes, shutdown timing,
// security, configuration the services really read, autoscaling wired to the real topic and group,
// routing, and who may talk to whom.

const NAMESPACE: Record<Overlay, string> = { dev: 'ad-tracking-dev', prod: 'ad-tracking' }
const rendered = {} as Record<Overlay | 'base', Rendered>
let secretTemplate: Rendered

/** Secrets the prod overlay reads but does not create: the template's, and CloudNativePG's. */
function externalSecrets(overlay: Overlay): Record<string, Record<string, string>> {
  if (overlay === 'dev') return {}
  const template = get(secretTemplate.objects, 'Secret', 'ad-tracking-secrets')
  return {
    'ad-tracking-secrets': template.stringData,
    // The keys CloudNativePG puts in <cluster>-app (https://cloudnative-pg.io/documentation/current/applications/).
    'ad-tracking-pg-app': {
      username: 'app',
      password: 'secret',
      host: 'ad-tracking-pg-rw',
      port: '5432',
      dbname: 'app',
      uri: 'postgresql://app:secret@ad-tracking-pg-rw.ad-tracking:5432/app',
    },
  }
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
}, 20 * 60_000)

describe('schemas', () => {
  it('every object of base, dev and prod, and the Secret template, is valid for Kubernetes and its CRDs (KEDA, Prometheus Operator, CloudNativePG)', async () => {
    const inputs = {
      base: rendered.base.yaml,
      dev: rendered.dev.yaml,
      prod: rendered.prod.yaml,
      'secret.template.yaml': secretTemplate.yaml,
    }
    const counts = {
      base: rendered.base.objects.length,
      dev: rendered.dev.objects.length,
      prod: rendered.prod.objects.length,
      'secret.template.yaml': secretTemplate.objects.length,
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

  it('scales the APIs on CPU (HPA) and the worker on consumer lag (KEDA), up to the partition count', () => {
    for (const service of ['ingest-api', 'analytics-api'] as const) {
      const hpa = get(objects(), 'HorizontalPodAutoscaler', service)
      const target = workloadOf(objects(), service)
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: target.kind, name: service })
      expect(hpa.spec.metrics).toContainEqual({
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } },
      })
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas)
      expect(target.spec.replicas, `${service}: the HPA owns the replica count`).toBeUndefined()
    }
    const worker = workloadOf(objects(), 'click-worker')
    expect(worker.kind).toBe('Deployment')
    expect(worker.spec.replicas, 'KEDA owns the replica count').toBeUndefined()
    const hpaTargets = objects()
      .filter((o) => o.kind === 'HorizontalPodAutoscaler')
      .map((o) => o.spec.scaleTargetRef.name)
    expect(hpaTargets, 'no HPA of ours on the worker: KEDA makes its own').not.toContain('click-worker')

    const scaled = get(objects(), 'ScaledObject', 'click-worker')
    const env = environment(container('click-worker').container)
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

  it('serves the public API on one host: POST /ads/click, /ads/clicks and /track/… to ingest-api, the rest to analytics-api', () => {
    const ingresses = objects().filter((o) => o.kind === 'Ingress')
    expect(ingresses).toHaveLength(1)
    const [ingress] = ingresses as [K8sObject]
    expect(ingress.spec.ingressClassName).toBeTruthy()
    expect(ingress.spec.rules).toHaveLength(1)
    const paths = ingress.spec.rules[0].http.paths as {
      path: string
      pathType: string
      backend: { service: { name: string; port: { name: string } } }
    }[]
    // The Ingress's routing rules: Exact wins, then the longest matching Prefix (by path element).
    const route = (url: string) => {
      const exact = paths.find((p) => p.pathType === 'Exact' && p.path === url)
      const prefix = paths
        .filter(
          (p) =>
            p.pathType === 'Prefix' &&
            (p.path === '/' || url === p.path || url.startsWith(`${p.path.replace(/\/$/, '')}/`)),
        )
        .sort((a, b) => b.path.length - a.path.length)[0]
      return (exact ?? prefix)?.backend.service
    }
    expect(route('/ads/click')).toEqual({ name: 'ingest-api', port: { name: 'http' } })
    expect(route('/ads/clicks')).toEqual({ name: 'ingest-api', port: { name: 'http' } })
    for (const url of ['/track/1/impression', '/track/1/clickthrough', '/track/events'])
      expect(route(url), url).toEqual({ name: 'ingest-api', port: { name: 'http' } })
    for (const url of [
      '/ads',
      '/ads/1',
      '/ads/1/vast',
      '/ads/analytics',
      '/ads/clicks/1',
      '/ads/click-1',
      '/tracking',
    ])
      expect(route(url), url).toEqual({ name: 'analytics-api', port: { name: 'http' } })
    for (const p of paths) {
      const svc = get(objects(), 'Service', p.backend.service.name)
      expect(svc.spec.ports.map((x: { name: string }) => x.name)).toContain(p.backend.service.port.name)
    }
  })

  it('migrates the database with a Job: the db CLI from the ingest-api image', () => {
    const job = get(objects(), 'Job', 'ad-tracking-migrate')
    const spec = podTemplate(job).spec
    const [migrate] = spec.containers
    expect(migrate.image).toBe(container('ingest-api').container.image)
    expect(migrate.command, 'args keep the image entrypoint (tini)').toBeUndefined()
    expect(migrate.args).toEqual([
      'node',
      'node_modules/@adtrack/db/dist/cli.js',
      overlay === 'dev' ? 'setup' : 'migrate',
    ])
    const env = environment(migrate)
    expect(Object.keys(env)).toEqual(['DATABASE_URL'])
    expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//)
    expect(['OnFailure', 'Never']).toContain(spec.restartPolicy)
  })

  it('runs one release: the three services and the Job use the same image tag', () => {
    const images = workloads(objects())
      .filter((w) => [...SERVICES, 'ad-tracking-migrate'].includes(w.metadata.name))
      .flatMap((w) => podTemplate(w).spec.containers.map((c: { image: string }) => c.image))
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
        'ingress-controller',
        'ingress-nginx',
        { 'app.kubernetes.io/name': 'ingress-nginx' },
        { http: 80 },
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
        'ingress-controller -> ingest-api:8080',
        'ingress-controller -> analytics-api:8080',
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
        'ad-tracking-migrate -> postgres:5432',
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
          { plain: 9092, tls: 9093 },
        ),
        { name: 'managed-redis', ip: '10.10.0.5', ports: { redis: 6379 } },
        { name: 'kube-apiserver', ip: '172.20.0.1', ports: { https: 443, alt: 6443 } },
      )
      expected = [
        'ingress-controller -> ingest-api:8080',
        'ingress-controller -> analytics-api:8080',
        'prometheus -> ingest-api:2112',
        'prometheus -> click-worker:2112',
        'prometheus -> analytics-api:2112',
        'prometheus -> cloudnativepg:9187',
        'ingest-api -> strimzi-kafka:9092',
        'ingest-api -> cloudnativepg:5432',
        'ingest-api -> managed-redis:6379',
        'click-worker -> strimzi-kafka:9092',
        'click-worker -> cloudnativepg:5432',
        'click-worker -> managed-redis:6379',
        'analytics-api -> cloudnativepg:5432',
        'analytics-api -> managed-redis:6379',
        'ad-tracking-migrate -> cloudnativepg:5432',
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

describe('base', () => {
  it('is what the overlays build on: the three services, no dependencies, no Secret', () => {
    const { objects } = rendered.base
    for (const service of SERVICES) expect(find(objects, 'Deployment', service)).toBeDefined()
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([])
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([])
  })
})
