import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkPostgresCluster, checkStrimzi } from './data-tier.js'
import { type K8sObject, readManifests } from './k8s.js'
import { k8sDir } from './paths.js'

// The narrower checks on their own: each breaks one promise in a copy of deploy/k8s/data-tier and must
// say so (data-tier.integration.test.ts runs them, and kubeconform, on the rendered files).

let strimzi: K8sObject[]
let postgres: K8sObject[]
beforeAll(async () => {
  strimzi = (await readManifests(join(k8sDir, 'data-tier/strimzi.yaml'))).objects
  postgres = (await readManifests(join(k8sDir, 'data-tier/cloudnativepg.yaml'))).objects
})

const topics = { topic: 'ad-clicks', partitions: 12 }
const copy = (objects: K8sObject[]): K8sObject[] => structuredClone(objects)
const one = (objects: K8sObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as K8sObject

describe('checkStrimzi', () => {
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
    expect(checkStrimzi(objects, { topic: 'ad-clicks', partitions: 24 })).toEqual([
      'KafkaTopic ad-clicks: min.insync.replicas is not 2',
      'KafkaTopic ad-clicks: 12 partitions, the services say 24',
      'no KafkaTopic for ad-clicks.dlq',
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
