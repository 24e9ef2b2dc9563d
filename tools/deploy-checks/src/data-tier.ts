import { AnalyticsConfig, deadLetterTopic, IngestConfig, WorkerConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import { containerEnvironment, type K8sObject, podTemplate } from './k8s.js'
import type { ServiceName } from './paths.js'

// What the schemas cannot see in deploy/k8s/data-tier and the prod overlay's Pooler: the promises the
// data tier must keep (synchronous replication, backups, replicated topics, no client without TLS), the
// connection budget, and, for Strimzi, a structural check beside its CRD schemas: the only field check of
// the Access Operator's KafkaAccess, whose CRD the checks cannot obtain.

// --- Strimzi, structurally --------------------------------------------------------------------------

/**
 * The fields data-tier/strimzi.yaml may use, per kind, as nested allow-lists (`true`: any value). Narrower
 * than Strimzi's CRDs (kubeconform checks the cluster operator's kinds against them, generated; see
 * PINS.strimzi in tools.ts) but strict like them: a misspelt or misplaced field is a problem, not silently
 * ignored by the operator. It needs no Java, so the unit tests run it, and KafkaAccess has no other.
 */
type Shape = true | { [field: string]: Shape }
const METADATA: Shape = { name: true, namespace: true, labels: true, annotations: true }
const POD_TEMPLATE: Shape = {
  pod: { metadata: true, affinity: true, tolerations: true, topologySpreadConstraints: true },
}
const STRIMZI_SHAPES: Record<string, Shape> = {
  KafkaNodePool: {
    apiVersion: true,
    kind: true,
    metadata: METADATA,
    spec: {
      replicas: true,
      roles: true,
      storage: { type: true, size: true, class: true, deleteClaim: true, volumes: true },
      resources: true,
      jvmOptions: true,
      template: POD_TEMPLATE,
    },
  },
  Kafka: {
    apiVersion: true,
    kind: true,
    metadata: METADATA,
    spec: {
      kafka: {
        version: true,
        metadataVersion: true,
        rack: { topologyKey: true },
        listeners: true,
        config: true,
        authorization: true,
        resources: true,
        template: true,
      },
      entityOperator: { topicOperator: true, userOperator: true },
      cruiseControl: true,
      kafkaExporter: true,
    },
  },
  KafkaTopic: {
    apiVersion: true,
    kind: true,
    metadata: METADATA,
    spec: { topicName: true, partitions: true, replicas: true, config: true },
  },
  KafkaUser: {
    apiVersion: true,
    kind: true,
    metadata: METADATA,
    spec: {
      authentication: { type: true },
      authorization: { type: true, acls: true },
      quotas: true,
    },
  },
  // Strimzi's Access Operator: a Secret beside the clients with a KafkaUser's credentials and the cluster CA.
  KafkaAccess: {
    apiVersion: true,
    kind: true,
    metadata: METADATA,
    spec: {
      kafka: { name: true, namespace: true, listener: true },
      user: { kind: true, apiGroup: true, name: true, namespace: true },
    },
  },
}
/** The API version of each kind (the Access Operator's API is its own). */
const STRIMZI_API_VERSIONS: Record<string, string> = {
  KafkaNodePool: 'kafka.strimzi.io/v1beta2',
  Kafka: 'kafka.strimzi.io/v1beta2',
  KafkaTopic: 'kafka.strimzi.io/v1beta2',
  KafkaUser: 'kafka.strimzi.io/v1beta2',
  KafkaAccess: 'access.strimzi.io/v1alpha1',
}
const ACL_RULE: Shape = {
  type: true,
  resource: { type: true, name: true, patternType: true },
  operations: true,
  host: true,
}
const LISTENER: Shape = {
  name: true,
  port: true,
  type: true,
  tls: true,
  authentication: true,
  networkPolicyPeers: true,
  configuration: true,
}

function unknownFields(value: unknown, shape: Shape, path: string): string[] {
  if (shape === true) return []
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path} is not an object`]
  return Object.entries(value).flatMap(([key, sub]) => {
    const allowed = shape[key]
    if (allowed === undefined) return [`${path}.${key} is not a field this check knows`]
    return unknownFields(sub, allowed, `${path}.${key}`)
  })
}

const num = (v: unknown) => (typeof v === 'number' ? v : Number(v))

/** Expectations from the prod overlay. */
export interface KafkaExpectations {
  /** The topic name and partitions the services are configured with. */
  topic: string
  partitions: number
  /** KafkaUser name -> the grants it must hold, no more and no fewer (kafkaClientGrants). */
  users: Record<string, string[]>
}

/** Objects of Strimzi's APIs: the cluster operator's and the Access Operator's. */
export const isStrimzi = (o: K8sObject) =>
  o.apiVersion.startsWith('kafka.strimzi.io/') || o.apiVersion.startsWith('access.strimzi.io/')

/**
 * What each Kafka client does, as ACL grants ("<resource type> <name>: <operation>"), from the code:
 * - ingest-api (and the spool replay Job, as the same user) produces to the topic (Write) and, at start,
 *   finds it and waits for its leaders (ensureTopic: listTopics, fetchTopicOffsets: Describe);
 * - click-worker consumes the topic in its group (Read), writes dead letters (Write) and runs ensureTopic
 *   on both topics (Describe); replay-dead-letters, run with the worker's environment, reads the dead
 *   letters in its own group <group>-dlq-replay (apps/click-worker/src/replay-dead-letters.ts) and writes
 *   them back to the topic. Its idempotent producers need no IdempotentWrite: since Kafka 2.8, Write on
 *   a topic allows InitProducerId;
 * - KEDA's Kafka scaler reads the group's lag: the topic's partitions and end offsets and the group's
 *   committed offsets (Describe on both).
 * No client creates topics (the KafkaTopics do), so none holds Create.
 */
export function kafkaClientGrants(
  topic: string,
  group: string,
): Record<'ingest-api' | 'click-worker' | 'keda', string[]> {
  const grants = (resource: string, ...operations: string[]) => operations.map((op) => `${resource}: ${op}`)
  const dlq = deadLetterTopic(topic)
  return {
    'ingest-api': grants(`topic ${topic}`, 'Describe', 'Write').sort(),
    'click-worker': [
      ...grants(`topic ${topic}`, 'Describe', 'Read', 'Write'),
      ...grants(`topic ${dlq}`, 'Describe', 'Read', 'Write'),
      ...grants(`group ${group}`, 'Read'),
      ...grants(`group ${group}-dlq-replay`, 'Read'),
    ].sort(),
    keda: [...grants(`topic ${topic}`, 'Describe'), ...grants(`group ${group}`, 'Describe')].sort(),
  }
}

/**
 * The grants of a KafkaUser's simple authorization, sorted, as kafkaClientGrants writes them. Rules that
 * reach further than one named resource (a prefix or `*`, the `All` operation, a deny rule) are written
 * as they are, so that they differ from every expectation.
 */
export function kafkaUserGrants(user: K8sObject): string[] {
  const rules: K8sObject['spec'][] = user.spec?.authorization?.acls ?? []
  return rules
    .flatMap((rule) => {
      const { type = 'topic', name = '?', patternType = 'literal' } = rule.resource ?? {}
      const resource = `${rule.type === 'deny' ? 'deny ' : ''}${type} ${name}${patternType === 'literal' ? '' : ` (${patternType})`}`
      const operations: string[] = rule.operations ?? (rule.operation ? [rule.operation] : [])
      return operations.map((op) => `${resource}: ${op}`)
    })
    .sort()
}

/**
 * Problems with the Strimzi objects: field names (STRIMZI_SHAPES), KRaft with separate controller and
 * broker pools of three or more, rack awareness, replication 3 with 2 in sync, and a KafkaTopic for the
 * clicks topic and one for its dead letters, each replicated 3 times with min.insync.replicas 2. Clients:
 * every listener encrypts (TLS) and authenticates (SCRAM-SHA-512 or TLS certificates), simple
 * authorization, the User Operator, and each KafkaUser holding exactly its expected grants; each
 * KafkaAccess names this Kafka, one of its listeners and one of these KafkaUsers.
 */
export function checkStrimzi(objects: K8sObject[], expect: KafkaExpectations): string[] {
  const problems: string[] = []
  const strimzi = objects.filter(isStrimzi)
  for (const o of strimzi) {
    const where = `${o.kind}/${o.metadata.name}`
    const shape = STRIMZI_SHAPES[o.kind]
    if (!shape) {
      problems.push(`${where}: a kind this check does not know`)
      continue
    }
    if (o.apiVersion !== STRIMZI_API_VERSIONS[o.kind]) problems.push(`${where}: apiVersion ${o.apiVersion}`)
    problems.push(...unknownFields(o, shape, where))
    if (o.kind === 'Kafka')
      for (const [i, listener] of (o.spec?.kafka?.listeners ?? []).entries())
        problems.push(...unknownFields(listener, LISTENER, `${where}.spec.kafka.listeners[${i}]`))
    if (o.kind === 'KafkaUser')
      for (const [i, rule] of (o.spec?.authorization?.acls ?? []).entries())
        problems.push(...unknownFields(rule, ACL_RULE, `${where}.spec.authorization.acls[${i}]`))
  }
  const kafkas = strimzi.filter((o) => o.kind === 'Kafka')
  if (kafkas.length !== 1) return [...problems, `expected one Kafka, found ${kafkas.length}`]
  const kafka = kafkas[0] as K8sObject
  const cluster = kafka.metadata.name
  const annotations: Record<string, string> = kafka.metadata.annotations ?? {}
  if (annotations['strimzi.io/node-pools'] !== 'enabled' || annotations['strimzi.io/kraft'] !== 'enabled')
    problems.push('Kafka: needs the annotations strimzi.io/node-pools and strimzi.io/kraft: enabled')
  if (!kafka.spec.kafka?.rack?.topologyKey) problems.push('Kafka: no rack awareness (spec.kafka.rack)')
  const config = kafka.spec.kafka?.config ?? {}
  if (num(config['default.replication.factor']) < 3) problems.push('Kafka: default.replication.factor < 3')
  if (num(config['min.insync.replicas']) !== 2) problems.push('Kafka: min.insync.replicas is not 2')
  if (config['unclean.leader.election.enable'] === true)
    problems.push('Kafka: unclean leader election can lose acknowledged clicks')
  const listeners: K8sObject['spec'][] = kafka.spec.kafka?.listeners ?? []
  for (const listener of listeners) {
    // An unencrypted listener carries every click in clear; on one without authentication no client says
    // who it is, so the KafkaUsers' ACLs mean nothing there.
    if (listener.tls !== true) problems.push(`Kafka: listener ${listener.name} does not encrypt (tls: true)`)
    if (!['scram-sha-512', 'tls'].includes(listener.authentication?.type))
      problems.push(`Kafka: listener ${listener.name} does not authenticate clients (scram-sha-512 or tls)`)
  }
  if (kafka.spec.kafka?.authorization?.type !== 'simple')
    problems.push('Kafka: no simple authorization: every authenticated client may do anything')

  const pools = strimzi.filter((o) => o.kind === 'KafkaNodePool')
  for (const pool of pools)
    if (pool.metadata.labels?.['strimzi.io/cluster'] !== cluster)
      problems.push(`KafkaNodePool/${pool.metadata.name}: not labelled strimzi.io/cluster: ${cluster}`)
  const rolesOf = (pool: K8sObject) => [...(pool.spec.roles ?? [])].sort().join(',')
  const controllers = pools.filter((p) => rolesOf(p) === 'controller')
  const brokers = pools.filter((p) => rolesOf(p) === 'broker')
  if (
    controllers.length === 0 ||
    brokers.length === 0 ||
    controllers.length + brokers.length !== pools.length
  )
    problems.push('KafkaNodePools: controllers and brokers must be separate pools (no mixed roles)')
  const sum = (list: K8sObject[]) => list.reduce((n, p) => n + num(p.spec.replicas), 0)
  if (sum(controllers) < 3 || sum(controllers) % 2 === 0)
    problems.push(`controllers: ${sum(controllers)} (an odd quorum of at least 3)`)
  if (sum(brokers) < 3) problems.push(`brokers: ${sum(brokers)} (at least 3, for 3 replicas)`)

  const topics = strimzi.filter((o) => o.kind === 'KafkaTopic')
  for (const [name, partitions] of [
    [expect.topic, expect.partitions],
    [deadLetterTopic(expect.topic), undefined],
  ] as const) {
    const topic = topics.find((t) => (t.spec.topicName ?? t.metadata.name) === name)
    if (!topic) {
      problems.push(`no KafkaTopic for ${name}`)
      continue
    }
    if (topic.metadata.labels?.['strimzi.io/cluster'] !== cluster)
      problems.push(`KafkaTopic ${name}: not labelled strimzi.io/cluster: ${cluster}`)
    if (num(topic.spec.replicas) !== 3) problems.push(`KafkaTopic ${name}: replicas ${topic.spec.replicas}`)
    if (num(topic.spec.config?.['min.insync.replicas']) !== 2)
      problems.push(`KafkaTopic ${name}: min.insync.replicas is not 2`)
    if (partitions !== undefined && num(topic.spec.partitions) !== partitions)
      problems.push(`KafkaTopic ${name}: ${topic.spec.partitions} partitions, the services say ${partitions}`)
  }

  const users = strimzi.filter((o) => o.kind === 'KafkaUser')
  const userOperator = kafka.spec.entityOperator?.userOperator
  if (users.length > 0 && !userOperator)
    problems.push('Kafka: KafkaUsers but no User Operator (spec.entityOperator.userOperator)')
  const usersNamespace = userOperator?.watchedNamespace ?? kafka.metadata.namespace
  for (const user of users) {
    const where = `KafkaUser ${user.metadata.name}`
    if (user.metadata.labels?.['strimzi.io/cluster'] !== cluster)
      problems.push(`${where}: not labelled strimzi.io/cluster: ${cluster}`)
    if (user.metadata.namespace !== usersNamespace)
      problems.push(
        `${where}: in namespace ${user.metadata.namespace}, the User Operator watches ${usersNamespace}`,
      )
    if (user.spec.authentication?.type !== 'scram-sha-512')
      problems.push(`${where}: authentication is not scram-sha-512 (the listener's)`)
    if (user.spec.authorization?.type !== 'simple') problems.push(`${where}: no simple authorization (ACLs)`)
  }
  for (const [name, grants] of Object.entries(expect.users)) {
    const user = users.find((u) => u.metadata.name === name)
    if (!user) {
      problems.push(`no KafkaUser ${name}`)
      continue
    }
    const held = kafkaUserGrants(user)
    const missing = grants.filter((g) => !held.includes(g))
    const extra = held.filter((g) => !grants.includes(g))
    if (missing.length > 0) problems.push(`KafkaUser ${name}: lacks ${missing.join(', ')}`)
    if (extra.length > 0) problems.push(`KafkaUser ${name}: holds more than it needs: ${extra.join(', ')}`)
  }
  for (const user of users)
    if (!(user.metadata.name in expect.users))
      problems.push(`KafkaUser ${user.metadata.name}: no client is expected to use it`)

  for (const access of strimzi.filter((o) => o.kind === 'KafkaAccess')) {
    const where = `KafkaAccess ${access.metadata.name}`
    const { kafka: ref, user } = access.spec ?? {}
    if (ref?.name !== cluster || (ref.namespace ?? access.metadata.namespace) !== kafka.metadata.namespace)
      problems.push(`${where}: does not name Kafka ${kafka.metadata.namespace}/${cluster}`)
    if (!listeners.some((l) => l.name === ref?.listener))
      problems.push(`${where}: listener ${ref?.listener} is not one of the Kafka's`)
    const target = users.find(
      (u) =>
        u.metadata.name === user?.name &&
        u.metadata.namespace === (user.namespace ?? access.metadata.namespace),
    )
    if (user?.kind !== 'KafkaUser' || user.apiGroup !== 'kafka.strimzi.io' || !target)
      problems.push(`${where}: does not name one of the KafkaUsers`)
  }
  return problems
}

// --- CloudNativePG: what exactly-once needs ----------------------------------------------------------

/** The pg_hba.conf line that refuses every TCP connection without TLS. */
const REJECT_CLEAR_CONNECTIONS = 'hostnossl all all all reject'

/**
 * Whether a Cluster's pg_hba refuses every TCP connection without TLS. CloudNativePG 1.28 puts these lines
 * between its fixed rules (local and hostssl only) and its catch-all `host all all all <method>`;
 * PostgreSQL takes the first line that matches, so the reject must come before any of these lines a clear
 * TCP connection could match (host or hostnossl).
 */
function refusesClearConnections(pgHba: string[]): boolean {
  const fields = (line: string) => line.trim().split(/\s+/)
  const reject = pgHba.findIndex((line) => fields(line).join(' ') === REJECT_CLEAR_CONNECTIONS)
  const firstClear = pgHba.findIndex((line) => ['host', 'hostnossl'].includes(fields(line)[0] ?? ''))
  return reject >= 0 && reject === firstClear
}

/**
 * Problems with the CloudNativePG Cluster: synchronous replication, backups, a pinned image, and no TCP
 * connection without TLS.
 */
export function checkPostgresCluster(objects: K8sObject[], name: string): string[] {
  const cluster = objects.find((o) => o.kind === 'Cluster' && o.metadata.name === name)
  if (!cluster) return [`no CloudNativePG Cluster ${name}`]
  const problems: string[] = []
  const spec = cluster.spec
  const sync = spec.postgresql?.synchronous
  const syncStandbys = sync ? num(sync.number) : num(spec.minSyncReplicas ?? 0)
  if (!(syncStandbys >= 1))
    problems.push(
      'Cluster: asynchronous replication (a failover can lose batches whose offsets were committed)',
    )
  if (sync && sync.dataDurability !== 'required')
    problems.push('Cluster: synchronous.dataDurability must be required (never fall back to asynchronous)')
  if (num(spec.instances) < syncStandbys + 2)
    problems.push(
      `Cluster: ${spec.instances} instances cannot lose one and keep ${syncStandbys} synchronous standby`,
    )
  if (!/:[0-9]+\.[0-9]+[^:/@]*@sha256:[0-9a-f]{64}$/.test(spec.imageName ?? ''))
    problems.push(`Cluster: image ${spec.imageName} is not pinned to a minor version and a digest`)
  if (!refusesClearConnections(spec.postgresql?.pg_hba ?? []))
    problems.push(
      `Cluster: pg_hba lets TCP clients in without TLS (needs ${REJECT_CLEAR_CONNECTIONS} before any host or hostnossl line)`,
    )
  if (!spec.backup?.barmanObjectStore && !spec.plugins?.length)
    problems.push('Cluster: no backups to object storage')
  const scheduled = objects.filter((o) => o.kind === 'ScheduledBackup' && o.spec.cluster?.name === name)
  if (scheduled.length === 0) problems.push(`no ScheduledBackup for ${name}`)
  return problems
}

/**
 * Problems with the TLS of a CloudNativePG Pooler. PgBouncer must refuse clients without TLS:
 * client_tls_sslmode require (CloudNativePG 1.28 defaults it to prefer, which lets them in clear; verify-ca
 * and verify-full would refuse the services too, which present no client certificate). Its own connections
 * to the Cluster, which refuses clear ones, must use TLS: server_tls_sslmode, whose default there is
 * verify-ca, no lower than require.
 */
export function checkPoolerTls(objects: K8sObject[], name: string): string[] {
  const pooler = objects.find((o) => o.kind === 'Pooler' && o.metadata.name === name)
  if (!pooler) return [`no CloudNativePG Pooler ${name}`]
  const problems: string[] = []
  const parameters: Record<string, string> = pooler.spec.pgbouncer?.parameters ?? {}
  const client = parameters.client_tls_sslmode ?? 'prefer'
  if (client !== 'require')
    problems.push(`Pooler: client_tls_sslmode ${client} (require refuses clients without TLS)`)
  const server = parameters.server_tls_sslmode ?? 'verify-ca'
  if (!['require', 'verify-ca', 'verify-full'].includes(server))
    problems.push(`Pooler: server_tls_sslmode ${server} (the Cluster refuses connections without TLS)`)
  return problems
}

/**
 * The DNS names in the server certificate CloudNativePG 1.28 issues for a Cluster (GetClusterAltDNSNames):
 * each of its Services -rw, -r and -ro as <service>, <service>.<namespace>, <service>.<namespace>.svc and
 * <service>.<namespace>.svc.cluster.local (the operator's default cluster domain), then
 * spec.certificates.serverAltDNSNames. A Pooler presents the same certificate. As the operator does, a
 * Service listed in spec.managed.services.disabledDefaultServices is left out; the names of additional
 * managed Services (which it adds too) are not, as these manifests declare none.
 */
export function serverCertificateNames(cluster: K8sObject, clusterDomain = 'cluster.local'): string[] {
  const { name, namespace } = cluster.metadata
  const disabled: string[] = cluster.spec.managed?.services?.disabledDefaultServices ?? []
  const services = ['rw', 'r', 'ro'].filter((s) => !disabled.includes(s))
  return [
    ...services.flatMap((s) => {
      const service = `${name}-${s}`
      return [
        service,
        `${service}.${namespace}`,
        `${service}.${namespace}.svc`,
        `${service}.${namespace}.svc.${clusterDomain}`,
      ]
    }),
    ...(cluster.spec.certificates?.serverAltDNSNames ?? []),
  ]
}

// --- The connection budget ---------------------------------------------------------------------------

const schemas = { 'ingest-api': IngestConfig, 'click-worker': WorkerConfig, 'analytics-api': AnalyticsConfig }

export interface ServiceBudget {
  service: ServiceName
  maxReplicas: number
  poolMax: number
  connections: number
}

/** The most replicas of a workload: its HPA's maxReplicas or its ScaledObject's maxReplicaCount. */
export function maxReplicas(objects: K8sObject[], workload: string): number {
  for (const o of objects) {
    if (o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef?.name === workload)
      return num(o.spec.maxReplicas)
    if (o.kind === 'ScaledObject' && o.spec.scaleTargetRef?.name === workload)
      return num(o.spec.maxReplicaCount ?? 100) // KEDA's default maximum
  }
  const target = objects.find(
    (o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === workload,
  )
  if (!target) throw new Error(`no workload ${workload}`)
  return num(target.spec.replicas ?? 1)
}

/**
 * Each service's PostgreSQL connections at its autoscaler's maximum: replicas x DATABASE_POOL_MAX, the
 * pool size read from the rendered environment with the service's own config loader (so defaults count).
 */
export function connectionBudget(
  objects: K8sObject[],
  external: Record<string, Record<string, string>> = {},
): ServiceBudget[] {
  return (Object.keys(schemas) as ServiceName[]).map((service) => {
    const workload = objects.find(
      (o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === service,
    ) as K8sObject
    const container = podTemplate(workload).spec.containers.find((c: { name: string }) => c.name === service)
    const { env } = containerEnvironment(objects, container, external)
    const config = loadConfig(schemas[service], env) as { DATABASE_POOL_MAX: number }
    const replicas = maxReplicas(objects, service)
    return {
      service,
      maxReplicas: replicas,
      poolMax: config.DATABASE_POOL_MAX,
      connections: replicas * config.DATABASE_POOL_MAX,
    }
  })
}
