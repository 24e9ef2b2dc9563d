import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  checkPoolerTls,
  checkPostgresCluster,
  checkStrimzi,
  kafkaClientGrants,
  kafkaUserGrants,
  serverCertificateNames,
} from './data-tier.js'
import { type K8sObject, readManifests } from './k8s.js'
import { deployDir, k8sDir } from './paths.js'
import { PINS } from './tools.js'

// The narrower checks on their own: each breaks one promise in a copy of deploy/k8s/data-tier and must
// say so (data-tier.integration.test.ts runs them, and kubeconform, on the rendered files).

let strimzi: K8sObject[]
let postgres: K8sObject[]
let pooler: K8sObject[]
beforeAll(async () => {
  strimzi = [
    ...(await readManifests(join(k8sDir, 'data-tier/strimzi.yaml'))).objects,
    ...(await readManifests(join(k8sDir, 'data-tier/kafka-users.yaml'))).objects,
  ]
  postgres = (await readManifests(join(k8sDir, 'data-tier/cloudnativepg.yaml'))).objects
  pooler = (await readManifests(join(k8sDir, 'overlays/prod/pooler.yaml'))).objects
})

// The KafkaUser of each client, as overlays/prod uses them (data-tier.integration.test.ts derives this
// from the rendered pods and the KafkaAccess objects).
const grants = kafkaClientGrants('ad-clicks', 'click-worker')
const users = {
  'ingest-api': grants['ingest-api'],
  'click-worker': grants['click-worker'],
  'keda-click-worker': grants.keda,
}
const topics = { topic: 'ad-clicks', partitions: 12, users }
const copy = (objects: K8sObject[]): K8sObject[] => structuredClone(objects)
const one = (objects: K8sObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as K8sObject

describe('checkStrimzi', () => {
  it('the CRDs the schemas are generated from are those of the Strimzi release deploy/README.md installs', async () => {
    const readme = await readFile(join(deployDir, 'README.md'), 'utf8')
    const installed = [...readme.matchAll(/strimzi-cluster-operator-([\d.]+)\.yaml/g)].map((m) => m[1])
    expect(installed.length).toBeGreaterThan(0)
    expect(new Set(installed)).toEqual(new Set([PINS.strimzi.api]))
  })

  it('accepts the data tier as written', () => {
    expect(checkStrimzi(strimzi, topics)).toEqual([])
  })

  it('refuses a misspelt field, which the operator would ignore', () => {
    const objects = copy(strimzi)
    one(objects, 'KafkaNodePool', 'brokers').spec.replcias = 3
    expect(checkStrimzi(objects, topics)).toEqual([
      'KafkaNodePool/brokers.spec.replcias is not a field this check knows',
    ])
  })

  it('refuses pools that mix the controller and broker roles', () => {
    const objects = copy(strimzi)
    one(objects, 'KafkaNodePool', 'brokers').spec.roles = ['controller', 'broker']
    expect(checkStrimzi(objects, topics).join('\n')).toMatch(/separate pools/)
  })

  it('refuses a Kafka without rack awareness or with unclean leader election', () => {
    const objects = copy(strimzi)
    const kafka = one(objects, 'Kafka')
    delete kafka.spec.kafka.rack
    kafka.spec.kafka.config['unclean.leader.election.enable'] = true
    expect(checkStrimzi(objects, topics)).toEqual([
      'Kafka: no rack awareness (spec.kafka.rack)',
      'Kafka: unclean leader election can lose acknowledged clicks',
    ])
  })

  it('wants both topics replicated three times with two in sync, and the partitions the services use', () => {
    const objects = copy(strimzi).filter((o) => o.metadata.name !== 'ad-clicks-dlq')
    one(objects, 'KafkaTopic', 'ad-clicks').spec.config['min.insync.replicas'] = 1
    expect(checkStrimzi(objects, { topic: 'ad-clicks', partitions: 24, users })).toEqual([
      'KafkaTopic ad-clicks: min.insync.replicas is not 2',
      'KafkaTopic ad-clicks: 12 partitions, the services say 24',
      'no KafkaTopic for ad-clicks.dlq',
    ])
  })
})

describe('checkStrimzi: clients', () => {
  it('refuses a plaintext listener, one without authentication, and no authorization', () => {
    const objects = copy(strimzi)
    const kafka = one(objects, 'Kafka')
    kafka.spec.kafka.listeners[0].tls = false
    delete kafka.spec.kafka.listeners[0].authentication
    delete kafka.spec.kafka.authorization
    expect(checkStrimzi(objects, topics)).toEqual([
      'Kafka: listener tls does not encrypt (tls: true)',
      'Kafka: listener tls does not authenticate clients (scram-sha-512 or tls)',
      'Kafka: no simple authorization: every authenticated client may do anything',
    ])
  })

  it('wants the User Operator for the KafkaUsers, in the namespace it watches', () => {
    const objects = copy(strimzi)
    delete one(objects, 'Kafka').spec.entityOperator.userOperator
    one(objects, 'KafkaUser', 'ingest-api').metadata.namespace = 'ad-tracking'
    expect(checkStrimzi(objects, topics)).toEqual([
      'Kafka: KafkaUsers but no User Operator (spec.entityOperator.userOperator)',
      'KafkaUser ingest-api: in namespace ad-tracking, the User Operator watches kafka',
      // Its KafkaAccess still looks for it in namespace kafka.
      'KafkaAccess kafka-ingest-api: does not name one of the KafkaUsers',
    ])
  })

  it('holds each KafkaUser to exactly the grants its client needs', () => {
    const objects = copy(strimzi)
    const ingest = one(objects, 'KafkaUser', 'ingest-api')
    // Create on the topic (never needed: the KafkaTopic makes it), Write dropped.
    ingest.spec.authorization.acls[0].operations = ['Describe', 'Create']
    // A prefix reaches further than the one group KEDA reads.
    one(objects, 'KafkaUser', 'keda-click-worker').spec.authorization.acls[1].resource.patternType = 'prefix'
    expect(checkStrimzi(objects, topics)).toEqual([
      'KafkaUser ingest-api: lacks topic ad-clicks: Write',
      'KafkaUser ingest-api: holds more than it needs: topic ad-clicks: Create',
      'KafkaUser keda-click-worker: lacks group click-worker: Describe',
      'KafkaUser keda-click-worker: holds more than it needs: group click-worker (prefix): Describe',
    ])
  })

  it('refuses a KafkaUser without SCRAM or ACLs, and one no client is expected to use', () => {
    const objects = copy(strimzi)
    const worker = one(objects, 'KafkaUser', 'click-worker')
    worker.spec.authentication.type = 'tls'
    delete worker.spec.authorization
    expect(checkStrimzi(objects, { ...topics, users: { ...users, 'click-worker': [] } })).toEqual([
      "KafkaUser click-worker: authentication is not scram-sha-512 (the listener's)",
      'KafkaUser click-worker: no simple authorization (ACLs)',
    ])
    const { 'keda-click-worker': _, ...withoutKeda } = users
    expect(checkStrimzi(copy(strimzi), { ...topics, users: withoutKeda })).toEqual([
      'KafkaUser keda-click-worker: no client is expected to use it',
    ])
  })

  it('wants each KafkaAccess to name this Kafka, a listener of it and one of the KafkaUsers', () => {
    const objects = copy(strimzi)
    const access = one(objects, 'KafkaAccess', 'kafka-ingest-api')
    access.spec.kafka.listener = 'plain'
    access.spec.user.namespace = 'ad-tracking'
    one(objects, 'KafkaAccess', 'kafka-keda-click-worker').spec.kafka.namespace = 'ad-tracking'
    expect(checkStrimzi(objects, topics)).toEqual([
      "KafkaAccess kafka-ingest-api: listener plain is not one of the Kafka's",
      'KafkaAccess kafka-ingest-api: does not name one of the KafkaUsers',
      'KafkaAccess kafka-keda-click-worker: does not name Kafka kafka/ad-tracking',
    ])
  })

  it('reads grants as written, so that a wildcard, All or a deny rule matches no expectation', () => {
    const user = copy(strimzi).find((o) => o.kind === 'KafkaUser') as K8sObject
    user.spec.authorization.acls = [
      { resource: { type: 'topic', name: '*', patternType: 'literal' }, operations: ['All'] },
      { type: 'deny', resource: { type: 'group', name: 'g' }, operations: ['Read'] },
      { resource: { type: 'cluster' }, operations: ['IdempotentWrite'] },
    ]
    expect(kafkaUserGrants(user)).toEqual([
      'cluster ?: IdempotentWrite',
      'deny group g: Read',
      'topic *: All',
    ])
  })
})

describe('checkPostgresCluster', () => {
  it('accepts the data tier as written', () => {
    expect(checkPostgresCluster(postgres, 'ad-tracking-pg')).toEqual([])
  })

  it('refuses asynchronous replication, a floating image and no backups', () => {
    const objects = copy(postgres).filter((o) => o.kind !== 'ScheduledBackup')
    const cluster = one(objects, 'Cluster')
    delete cluster.spec.postgresql.synchronous
    cluster.spec.imageName = 'ghcr.io/cloudnative-pg/postgresql:16'
    delete cluster.spec.backup
    expect(checkPostgresCluster(objects, 'ad-tracking-pg')).toEqual([
      'Cluster: asynchronous replication (a failover can lose batches whose offsets were committed)',
      'Cluster: image ghcr.io/cloudnative-pg/postgresql:16 is not pinned to a minor version and a digest',
      'Cluster: no backups to object storage',
      'no ScheduledBackup for ad-tracking-pg',
    ])
  })

  it('refuses an image named by its minor version alone, without the digest', () => {
    const objects = copy(postgres)
    one(objects, 'Cluster').spec.imageName = 'ghcr.io/cloudnative-pg/postgresql:18.1-system-trixie'
    expect(checkPostgresCluster(objects, 'ad-tracking-pg')).toEqual([
      'Cluster: image ghcr.io/cloudnative-pg/postgresql:18.1-system-trixie is not pinned to a minor version and a digest',
    ])
  })

  it('refuses a synchronous setting that falls back to asynchronous when no standby answers', () => {
    const objects = copy(postgres)
    one(objects, 'Cluster').spec.postgresql.synchronous.dataDurability = 'preferred'
    expect(checkPostgresCluster(objects, 'ad-tracking-pg')).toEqual([
      'Cluster: synchronous.dataDurability must be required (never fall back to asynchronous)',
    ])
  })
})

describe('checkPostgresCluster: clear connections', () => {
  const refused =
    'Cluster: pg_hba lets TCP clients in without TLS (needs hostnossl all all all reject before any host or hostnossl line)'
  const withRules = (pgHba: string[] | undefined) => {
    const objects = copy(postgres)
    one(objects, 'Cluster').spec.postgresql.pg_hba = pgHba
    return checkPostgresCluster(objects, 'ad-tracking-pg')
  }

  it('refuses a Cluster without the reject rule: CloudNativePG then lets any TCP client in without TLS', () => {
    expect(withRules(undefined)).toEqual([refused])
    expect(withRules([])).toEqual([refused])
  })

  it('refuses the reject rule behind a line that lets clear connections in first', () => {
    expect(withRules(['host app app 10.0.0.0/8 scram-sha-256', 'hostnossl all all all reject'])).toEqual([
      refused,
    ])
    expect(withRules(['hostnossl all all 10.0.0.0/8 reject'])).toEqual([refused])
  })

  it('takes the rule however it is spaced, and behind lines that need TLS', () => {
    expect(withRules(['hostssl app app all scram-sha-256', '  hostnossl  all\tall all   reject'])).toEqual([])
  })
})

describe('checkPoolerTls', () => {
  it('accepts the prod Pooler as written', () => {
    expect(checkPoolerTls(pooler, 'ad-tracking-pg-pooler-rw')).toEqual([])
  })

  it("refuses CloudNativePG's default, prefer, which lets clients in without TLS", () => {
    const objects = copy(pooler)
    delete one(objects, 'Pooler').spec.pgbouncer.parameters.client_tls_sslmode
    expect(checkPoolerTls(objects, 'ad-tracking-pg-pooler-rw')).toEqual([
      'Pooler: client_tls_sslmode prefer (require refuses clients without TLS)',
    ])
  })

  it('refuses server connections without TLS, which the Cluster would refuse', () => {
    const objects = copy(pooler)
    one(objects, 'Pooler').spec.pgbouncer.parameters.server_tls_sslmode = 'prefer'
    expect(checkPoolerTls(objects, 'ad-tracking-pg-pooler-rw')).toEqual([
      'Pooler: server_tls_sslmode prefer (the Cluster refuses connections without TLS)',
    ])
  })
})

describe('serverCertificateNames', () => {
  it("names the Cluster's Services in every form, then the Pooler's from serverAltDNSNames", () => {
    const names = serverCertificateNames(one(postgres, 'Cluster'))
    expect(names.slice(0, 4)).toEqual([
      'ad-tracking-pg-rw',
      'ad-tracking-pg-rw.ad-tracking',
      'ad-tracking-pg-rw.ad-tracking.svc',
      'ad-tracking-pg-rw.ad-tracking.svc.cluster.local',
    ])
    expect(names).toContain('ad-tracking-pg-ro.ad-tracking.svc')
    expect(names).toContain('ad-tracking-pg-pooler-rw.ad-tracking.svc')
  })

  it('leaves out the Services the Cluster disables, and has no Pooler name without serverAltDNSNames', () => {
    const cluster = copy(postgres).find((o) => o.kind === 'Cluster') as K8sObject
    cluster.spec.managed = { services: { disabledDefaultServices: ['r', 'ro'] } }
    delete cluster.spec.certificates
    expect(serverCertificateNames(cluster)).toEqual([
      'ad-tracking-pg-rw',
      'ad-tracking-pg-rw.ad-tracking',
      'ad-tracking-pg-rw.ad-tracking.svc',
      'ad-tracking-pg-rw.ad-tracking.svc.cluster.local',
    ])
  })
})
