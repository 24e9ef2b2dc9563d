import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ReplaySpoolConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { prodExternalSecrets } from './external-secrets.js'
import {
  containerEnvironment,
  get,
  type K8sObject,
  OVERLAYS,
  type Overlay,
  parseManifests,
  podTemplate,
  type Rendered,
  readManifests,
  render,
  secretFile,
  validate,
  workloadOf,
} from './k8s.js'
import { allowed, type Endpoint } from './network-policy.js'
import { k8sDir } from './paths.js'

// deploy/k8s/replay-spool-job.template.yaml: the Job that sends a spool no ingest-api pod mounts any more
// to Kafka. Filled in from each overlay's ingest-api as its header fills it in from the cluster, then held
// to the schemas and to ingest-api: the same image, configuration, user and SPOOL_DIR, on the claim a
// scaled-down pod leaves behind, allowed to reach Kafka, and never behind the ingest-api Service.

const TEMPLATE = join(k8sDir, 'replay-spool-job.template.yaml')
const NAMESPACE: Record<Overlay, string> = { dev: 'ad-tracking-dev', prod: 'ad-tracking' }
const rendered = {} as Record<Overlay, Rendered>
let template: string
/** The Secrets prod reads but does not create (the template's, CloudNativePG's, the Access Operator's). */
let external: Record<string, Record<string, string>>

beforeAll(async () => {
  const [dev, prod] = await Promise.all([render('overlays/dev'), render('overlays/prod'), Promise.resolve()])
  Object.assign(rendered, { dev, prod })
  template = await readFile(TEMPLATE, 'utf8')
  external = prodExternalSecrets(
    (await readManifests(join(k8sDir, 'secret.template.yaml'))).objects,
    (await readManifests(join(k8sDir, 'data-tier/kafka-users.yaml'))).objects,
  )
}, 20 * 60_000)

/** The template with its placeholders replaced as the header's kubectl and sed commands replace them. */
function fill(objects: K8sObject[], claim: string): string {
  const container = podTemplate(workloadOf(objects, 'ingest-api')).spec.containers[0]
  const [shared, kafka, ingest] = container.envFrom.map(
    (s: { configMapRef: { name: string } }) => s.configMapRef.name,
  )
  return template
    .replaceAll('REPLACE_ME_CLAIM', claim)
    .replaceAll('REPLACE_ME_IMAGE', container.image)
    .replaceAll('REPLACE_ME_SHARED_CONFIG', shared)
    .replaceAll('REPLACE_ME_KAFKA_CONFIG', kafka)
    .replaceAll('REPLACE_ME_INGEST_CONFIG', ingest)
}

describe('the spool replay Job template', () => {
  it('is valid for Kubernetes once filled in from the prod overlay, and leaves no placeholder', async () => {
    const yaml = fill(rendered.prod.objects, 'spool-ingest-api-3')
    expect(yaml).not.toMatch(/REPLACE_ME/)
    for (const result of await validate({ job: yaml })) {
      expect(result.problems, `Kubernetes ${result.kubernetesVersion}`).toEqual([])
      expect(result.valid, `Kubernetes ${result.kubernetesVersion}`).toEqual({ job: 1 })
    }
  })

  it("mounts the claim a scaled-down prod pod leaves behind, at ingest-api's SPOOL_DIR, as ingest-api's user", () => {
    const objects = rendered.prod.objects
    const sts = workloadOf(objects, 'ingest-api')
    expect(sts.kind).toBe('StatefulSet')
    // A StatefulSet names each pod's claim <claim template>-<statefulset>-<ordinal>.
    const claim = `${sts.spec.volumeClaimTemplates[0].metadata.name}-${sts.metadata.name}-3`
    const [job] = parseManifests(fill(objects, claim))
    const pod = podTemplate(job as K8sObject)
    const [c] = pod.spec.containers
    const ingest = podTemplate(sts)
    const ingestContainer = ingest.spec.containers[0]

    expect(c.image).toBe(ingestContainer.image)
    expect(c.command, 'args keep the image entrypoint (tini)').toBeUndefined()
    expect(c.args).toEqual(['node', 'dist/replay-spool.js'])
    expect(['OnFailure', 'Never']).toContain(pod.spec.restartPolicy)
    for (const key of ['runAsUser', 'runAsGroup', 'fsGroup'])
      expect(pod.spec.securityContext[key], key).toBe(ingest.spec.securityContext[key])

    const { env, problems } = containerEnvironment(objects, c, external)
    expect(problems).toEqual([])
    const config = loadConfig(ReplaySpoolConfig, env)
    const ingestEnv = containerEnvironment(objects, ingestContainer, external).env
    expect(config.SPOOL_DIR).toBe(ingestEnv.SPOOL_DIR)
    expect(config.KAFKA_TOPIC).toBe(loadConfig(ReplaySpoolConfig, ingestEnv).KAFKA_TOPIC)
    // Kafka as ingest-api reaches it: the same brokers, TLS, mechanism and KafkaUser, and its CA file from
    // the same Secret.
    for (const name of [
      'KAFKA_BROKERS',
      'KAFKA_TLS',
      'KAFKA_TLS_CA_FILE',
      'KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_USERNAME',
      'KAFKA_SASL_PASSWORD',
    ])
      expect(env[name], name).toBe(ingestEnv[name])
    expect(env.KAFKA_SASL_PASSWORD, 'prod authenticates').toBeDefined()
    const caFile = env.KAFKA_TLS_CA_FILE ?? ''
    expect(secretFile(pod.spec, c, caFile)).toBeDefined()
    expect(secretFile(pod.spec, c, caFile)).toEqual(secretFile(ingest.spec, ingestContainer, caFile))
    const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === config.SPOOL_DIR)
    expect(mount, `a volume at SPOOL_DIR=${config.SPOOL_DIR}`).toBeDefined()
    const volume = pod.spec.volumes.find((v: { name: string }) => v.name === mount.name)
    expect(volume.persistentVolumeClaim.claimName).toBe(claim)
    expect(job?.metadata.name).toBe(`replay-${claim}`)
  })

  it.each(OVERLAYS)(
    '%s: its pod may reach Kafka, and neither the ingest-api Service nor its disruption budget selects it',
    (overlay) => {
      const objects = rendered[overlay].objects
      const namespace = NAMESPACE[overlay]
      const [job] = parseManifests(fill(objects, 'spool-ingest-api-3'))
      const labels: Record<string, string> = podTemplate(job as K8sObject).metadata.labels
      const selects = (selector: Record<string, string>) =>
        Object.entries(selector).every(([k, v]) => labels[k] === v)
      expect(selects(get(objects, 'Service', 'ingest-api').spec.selector)).toBe(false)
      expect(selects(get(objects, 'PodDisruptionBudget', 'ingest-api').spec.selector.matchLabels)).toBe(false)

      const replay: Endpoint = {
        name: 'replay',
        namespace,
        namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
        labels,
        ports: {},
      }
      // The port of the overlay's KAFKA_BROKERS (dev: plaintext 9092; prod: the tls listener, 9093).
      const ingest = podTemplate(workloadOf(objects, 'ingest-api')).spec.containers[0]
      const brokers = containerEnvironment(objects, ingest, overlay === 'prod' ? external : {}).env
        .KAFKA_BROKERS
      const port = Number(brokers?.split(',')[0]?.split(':').pop())
      const kafka: Endpoint =
        overlay === 'dev'
          ? {
              name: 'kafka',
              namespace,
              namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
              labels: podTemplate(workloadOf(objects, 'kafka')).metadata.labels,
              ports: { kafka: port },
            }
          : {
              name: 'strimzi-kafka',
              namespace: 'kafka',
              namespaceLabels: { 'kubernetes.io/metadata.name': 'kafka' },
              labels: { 'strimzi.io/cluster': 'ad-tracking', 'strimzi.io/kind': 'Kafka' },
              ports: { tls: port },
            }
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy')
      expect(allowed(policies, namespace, replay, kafka, port)).toBe(true)
    },
  )
})
