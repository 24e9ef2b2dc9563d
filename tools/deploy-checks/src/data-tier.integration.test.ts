import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { checkPostgresCluster, checkStrimzi, connectionBudget, maxReplicas } from './data-tier.js'
import {
  containerEnvironment,
  get,
  type K8sObject,
  podTemplate,
  type Rendered,
  readManifests,
  render,
  validate,
  workloads,
} from './k8s.js'
import { deployDir, k8sDir } from './paths.js'

// deploy/k8s/data-tier and the prod overlay's Pooler: CloudNativePG's objects validated strictly against
// its CRDs (kubeconform), Strimzi's with the narrower structural check (its CRDs are not to be had
// offline), and the connection budget of deploy/README.md worked out from the rendered manifests.

let dataTier: Rendered
let prod: Rendered
let secretTemplate: Rendered
const CLUSTER = 'ad-tracking-pg'
// The keys CloudNativePG puts in <cluster>-app (as k8s.integration.test.ts has them).
const cnpgApp = {
  username: 'app',
  password: 'secret',
  host: `${CLUSTER}-rw`,
  port: '5432',
  dbname: 'app',
  uri: `postgresql://app:secret@${CLUSTER}-rw.ad-tracking:5432/app`,
}

beforeAll(async () => {
  ;[dataTier, prod] = await Promise.all([render('data-tier'), render('overlays/prod')])
  secretTemplate = await readManifests(join(k8sDir, 'secret.template.yaml'))
}, 20 * 60_000)

const isStrimzi = (o: K8sObject) => o.apiVersion.startsWith('kafka.strimzi.io/')

describe('the data tier', () => {
  it('CloudNativePG objects are valid for Kubernetes and CloudNativePG 1.28 (strict)', async () => {
    const postgres = dataTier.objects.filter((o) => !isStrimzi(o))
    expect(postgres.map((o) => o.kind).sort()).toEqual(['Cluster', 'ScheduledBackup'])
    const yaml = postgres.map((o) => stringify(o)).join('---\n')
    for (const result of await validate({ 'data-tier': yaml })) {
      expect(result.problems, `Kubernetes ${result.kubernetesVersion}`).toEqual([])
      expect(result.valid).toEqual({ 'data-tier': postgres.length })
    }
  })

  it('PostgreSQL replicates synchronously, backs up to object storage, runs a pinned image', () => {
    expect(checkPostgresCluster(dataTier.objects, CLUSTER)).toEqual([])
  })

  it('Kafka has separate controller and broker pools, rack awareness, and both topics as the services use them', () => {
    // Generated ConfigMaps carry a hash suffix.
    const kafkaConfig = prod.objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('ad-tracking-kafka-'),
    )?.data
    expect(
      checkStrimzi(dataTier.objects, {
        topic: kafkaConfig.KAFKA_TOPIC,
        partitions: Number(kafkaConfig.KAFKA_TOPIC_PARTITIONS),
      }),
    ).toEqual([])
    // Nothing of Strimzi's goes unchecked: every object is one of the three kinds the check knows.
    expect(new Set(dataTier.objects.filter(isStrimzi).map((o) => o.kind))).toEqual(
      new Set(['Kafka', 'KafkaNodePool', 'KafkaTopic']),
    )
  })

  it("KEDA's Kafka trigger takes its credentials from a TriggerAuthentication whose Secret keys the template has", () => {
    const scaled = get(prod.objects, 'ScaledObject', 'click-worker')
    const ref = scaled.spec.triggers[0].authenticationRef.name
    const auth = get(prod.objects, 'TriggerAuthentication', ref)
    const secret = get(secretTemplate.objects, 'Secret', 'ad-tracking-kafka-auth')
    for (const target of auth.spec.secretTargetRef) {
      expect(target.name).toBe('ad-tracking-kafka-auth')
      expect(Object.keys(secret.stringData)).toContain(target.key)
    }
    expect(auth.spec.secretTargetRef.map((t: { parameter: string }) => t.parameter).sort()).toEqual([
      'ca',
      'password',
      'sasl',
      'tls',
      'username',
    ])
  })
})

describe('the connection budget (prod)', () => {
  const external = () => ({
    'ad-tracking-secrets': get(secretTemplate.objects, 'Secret', 'ad-tracking-secrets').stringData,
    [`${CLUSTER}-app`]: cnpgApp,
  })
  const pooler = () => get(prod.objects, 'Pooler', `${CLUSTER}-pooler-rw`)
  const cluster = () => get(dataTier.objects, 'Cluster', CLUSTER)

  it('the services reach PostgreSQL through the transaction-mode Pooler; the migration goes direct', () => {
    expect(pooler().spec).toMatchObject({ cluster: { name: CLUSTER }, type: 'rw' })
    expect(pooler().spec.pgbouncer.poolMode).toBe('transaction')
    for (const w of workloads(prod.objects)) {
      const spec = podTemplate(w).spec
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const { env } = containerEnvironment(prod.objects, c, external())
        if (!env.DATABASE_URL) continue
        const host = new URL(env.DATABASE_URL).hostname.split('.')[0]
        const migrates = /cli\.js.*(migrate|setup)/.test([...(c.command ?? []), ...(c.args ?? [])].join(' '))
        // TRICKY: the migration's session advisory lock does not survive transaction pooling.
        expect(host, `${w.metadata.name}/${c.name}`).toBe(migrates ? `${CLUSTER}-rw` : `${CLUSTER}-pooler-rw`)
        // Named prepared statements need PgBouncer to track them.
        if (!migrates && env.DATABASE_PREPARE !== 'false')
          expect(Number(pooler().spec.pgbouncer.parameters.max_prepared_statements)).toBeGreaterThan(0)
      }
    }
  })

  it("fits: every client at the autoscalers' maxima into the Pooler, its server connections into max_connections", async () => {
    const budget = connectionBudget(prod.objects, external())
    const clients = budget.reduce((n, b) => n + b.connections, 0)
    const { parameters } = pooler().spec.pgbouncer
    // During a rollout every client may land on one PgBouncer instance.
    expect(clients).toBeLessThanOrEqual(Number(parameters.max_client_conn))
    const server = Number(pooler().spec.instances) * Number(parameters.default_pool_size)
    // Beside the Pooler: the migrations, one connection (the migrate CLI's pool is 1) per migration init
    // container of every pod at the autoscalers' maxima, as if all started at once; a reconcile run (2);
    // the operator and its probes (about 5); and PostgreSQL's 3 reserved superuser slots.
    const migrations = workloads(prod.objects).reduce((n, w) => {
      const migrators = (podTemplate(w).spec.initContainers ?? []).filter(
        (c: { command?: string[]; args?: string[] }) =>
          /cli\.js.*(migrate|setup)/.test([...(c.command ?? []), ...(c.args ?? [])].join(' ')),
      ).length
      return n + migrators * maxReplicas(prod.objects, w.metadata.name)
    }, 0)
    expect(migrations).toBe(budget.reduce((n, b) => n + b.maxReplicas, 0))
    const direct = migrations + 2 + 5 + 3
    const maxConnections = Number(cluster().spec.postgresql.parameters.max_connections)
    expect(server + direct).toBeLessThanOrEqual(maxConnections)
    // Without the Pooler the services alone would not fit: it is needed, not decoration.
    expect(clients).toBeGreaterThan(maxConnections)

    // deploy/README.md shows the same sums.
    const readme = await readFile(join(deployDir, 'README.md'), 'utf8')
    for (const b of budget)
      expect(readme).toContain(`| ${b.service} | ${b.maxReplicas} | ${b.poolMax} | ${b.connections} |`)
    expect(readme).toContain(`| total | | | ${clients} |`)
    expect(readme).toContain(
      `${pooler().spec.instances} × ${parameters.default_pool_size} = ${server} server connections`,
    )
    expect(readme).toContain(`${migrations} direct connections`)
    expect(readme).toContain(`with the ${migrations} migration connections`)
  })
})
