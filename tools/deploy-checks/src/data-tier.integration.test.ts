import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import {
  checkPoolerTls,
  checkPostgresCluster,
  checkStrimzi,
  connectionBudget,
  isStrimzi,
  kafkaClientGrants,
  maxReplicas,
  serverCertificateNames,
} from './data-tier.js'
import { prodExternalSecrets } from './external-secrets.js'
import {
  containerEnvironment,
  get,
  podTemplate,
  type Rendered,
  readManifests,
  render,
  validate,
  workloads,
} from './k8s.js'
import { deployDir, k8sDir } from './paths.js'

// deploy/k8s/data-tier and the prod overlay's Pooler: CloudNativePG's and Strimzi's objects validated
// strictly against their CRDs (kubeconform; Strimzi's generated, see PINS.strimzi), the Access Operator's
// KafkaAccess, whose CRD is not to be had offline, by the structural check alone, and the connection
// budget of deploy/README.md worked out from the rendered manifests.

let dataTier: Rendered
let prod: Rendered
let secretTemplate: Rendered
const CLUSTER = 'ad-tracking-pg'
const external = () => prodExternalSecrets(secretTemplate.objects, dataTier.objects)

beforeAll(async () => {
  ;[dataTier, prod] = await Promise.all([render('data-tier'), render('overlays/prod')])
  secretTemplate = await readManifests(join(k8sDir, 'secret.template.yaml'))
}, 20 * 60_000)

describe('the data tier', () => {
  // Every object but the KafkaAccesses, which have no schema.
  const withSchemas = () => dataTier.objects.filter((o) => o.kind !== 'KafkaAccess')
  const yamlOf = (objects: object[]) => objects.map((o) => stringify(o)).join('---\n')

  it('CloudNativePG and Strimzi objects are valid for Kubernetes, CloudNativePG 1.28 and Strimzi 0.47 (strict)', async () => {
    const objects = withSchemas()
    expect([...new Set(objects.map((o) => o.kind))].sort()).toEqual([
      'Cluster',
      'Kafka',
      'KafkaNodePool',
      'KafkaTopic',
      'KafkaUser',
      'ScheduledBackup',
    ])
    for (const result of await validate({ 'data-tier': yamlOf(objects) })) {
      expect(result.problems, `Kubernetes ${result.kubernetesVersion}`).toEqual([])
      expect(result.valid).toEqual({ 'data-tier': objects.length })
    }
  })

  it("Strimzi's schemas refuse a misspelt field, also where the structural check takes any value", async () => {
    const objects = structuredClone(withSchemas())
    const topic = get(objects, 'KafkaTopic', 'ad-clicks')
    topic.spec.partitons = topic.spec.partitions
    delete topic.spec.partitions
    // The structural check takes any value under userOperator.
    get(objects, 'Kafka', 'ad-tracking').spec.entityOperator.userOperator.watchedNamspace = 'kafka'
    for (const result of await validate({ 'data-tier': yamlOf(objects) })) {
      expect([...result.problems].sort(), `Kubernetes ${result.kubernetesVersion}`).toEqual([
        expect.stringMatching(/^data-tier: Kafka\/ad-tracking: Invalid .*'watchedNamspace' not allowed/),
        expect.stringMatching(/^data-tier: KafkaTopic\/ad-clicks: Invalid .*'partitons' not allowed/),
      ])
      expect(result.valid).toEqual({ 'data-tier': objects.length - 2 })
    }
  })

  it('PostgreSQL replicates synchronously, backs up to object storage, runs a pinned image, refuses clients without TLS', () => {
    expect(checkPostgresCluster(dataTier.objects, CLUSTER)).toEqual([])
  })

  it("prod's Pooler refuses clients without TLS and reaches the Cluster over TLS", () => {
    expect(checkPoolerTls(prod.objects, `${CLUSTER}-pooler-rw`)).toEqual([])
  })

  // The environment prod gives a service's own container.
  const serviceEnvironment = (service: string) => {
    const c = podTemplate(get(prod.objects, service === 'ingest-api' ? 'StatefulSet' : 'Deployment', service))
      .spec.containers[0]
    return { container: c, env: containerEnvironment(prod.objects, c, external()).env }
  }
  // The KafkaUser behind a Secret the prod overlay reads Kafka credentials from: the Access Operator
  // names each Secret as its KafkaAccess, which names the user.
  const kafkaUserBehind = (secret: string) => get(dataTier.objects, 'KafkaAccess', secret).spec.user.name
  const passwordSecret = (c: { env: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] }) =>
    c.env.find((e) => e.name === 'KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef?.name ?? '(none)'

  it('Kafka has separate controller and broker pools, rack awareness, both topics as the services use them, and each client as a KafkaUser with exactly the ACLs it needs', () => {
    const { env } = serviceEnvironment('click-worker')
    const grants = kafkaClientGrants(env.KAFKA_TOPIC ?? '', env.KAFKA_GROUP_ID ?? '')
    const scaled = get(prod.objects, 'ScaledObject', 'click-worker')
    const auth = get(prod.objects, 'TriggerAuthentication', scaled.spec.triggers[0].authenticationRef.name)
    const users = {
      [kafkaUserBehind(passwordSecret(serviceEnvironment('ingest-api').container))]: grants['ingest-api'],
      [kafkaUserBehind(passwordSecret(serviceEnvironment('click-worker').container))]: grants['click-worker'],
      [kafkaUserBehind(auth.spec.secretTargetRef[0].name)]: grants.keda,
    }
    // Three clients, three users: none borrows another's rights.
    expect(Object.keys(users)).toHaveLength(3)
    expect(
      checkStrimzi(dataTier.objects, {
        topic: env.KAFKA_TOPIC ?? '',
        partitions: Number(env.KAFKA_TOPIC_PARTITIONS),
        users,
      }),
    ).toEqual([])
    // Nothing of Strimzi's goes unchecked: every object is one of the kinds the check knows.
    expect(new Set(dataTier.objects.filter(isStrimzi).map((o) => o.kind))).toEqual(
      new Set(['Kafka', 'KafkaNodePool', 'KafkaTopic', 'KafkaUser', 'KafkaAccess']),
    )
  })

  it('the Kafka clients and KEDA dial the bootstrap Service of the listener their KafkaAccess names, with its TLS and SASL mechanism', () => {
    const kafka = get(dataTier.objects, 'Kafka', 'ad-tracking')
    const scaled = get(prod.objects, 'ScaledObject', 'click-worker')
    const auth = get(prod.objects, 'TriggerAuthentication', scaled.spec.triggers[0].authenticationRef.name)
    const clients = [
      ...['ingest-api', 'click-worker'].map((service) => {
        const { container, env } = serviceEnvironment(service)
        return { who: service, secret: passwordSecret(container), brokers: env.KAFKA_BROKERS, env }
      }),
      {
        who: 'KEDA',
        secret: auth.spec.secretTargetRef[0].name,
        brokers: scaled.spec.triggers[0].metadata.bootstrapServers,
        env: undefined,
      },
    ]
    for (const { who, secret, brokers, env } of clients) {
      const access = get(dataTier.objects, 'KafkaAccess', secret)
      const listener = kafka.spec.kafka.listeners.find(
        (l: { name: string }) => l.name === access.spec.kafka.listener,
      )
      expect(listener, who).toBeDefined()
      expect(brokers, who).toBe(
        `${kafka.metadata.name}-kafka-bootstrap.${kafka.metadata.namespace}.svc:${listener.port}`,
      )
      expect(listener.tls, who).toBe(true)
      expect(listener.authentication.type, who).toBe('scram-sha-512')
      if (env) {
        expect(env.KAFKA_TLS, who).toBe('true')
        expect(env.KAFKA_SASL_MECHANISM, who).toBe(listener.authentication.type)
      } else {
        expect(scaled.spec.triggers[0].metadata).toMatchObject({ tls: 'enable', sasl: 'scram_sha512' })
      }
    }
  })
})

describe('the connection budget (prod)', () => {
  const pooler = () => get(prod.objects, 'Pooler', `${CLUSTER}-pooler-rw`)
  const cluster = () => get(dataTier.objects, 'Cluster', CLUSTER)

  it('the services reach PostgreSQL through the transaction-mode Pooler, the migration directly; each dials a name the server certificate carries', () => {
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
        // sslmode=verify-full checks the host name against the certificate the server (or the Pooler, which
        // presents the Cluster's) shows: it must name the host this container dials.
        expect(serverCertificateNames(cluster()), `${w.metadata.name}/${c.name}`).toContain(
          new URL(env.DATABASE_URL).hostname,
        )
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
