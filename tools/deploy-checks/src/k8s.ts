import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { k8sDir } from './paths.js'
import { type Log, run, runChecked, stderrLog } from './run.js'
import { ensureKubeconform, ensureKubernetesSchemas, ensureKustomize } from './tools.js'

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
export type K8sObject = Record<string, any> & {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
}

export const OVERLAYS = ['dev', 'prod'] as const
export type Overlay = (typeof OVERLAYS)[number]

export interface Rendered {
  yaml: string
  objects: K8sObject[]
}

/** `kustomize build` of deploy/k8s/<path> (e.g. overlays/dev), parsed. */
export async function render(path: string, log: Log = stderrLog): Promise<Rendered> {
  const kustomize = await ensureKustomize(log)
  const yaml = await runChecked(kustomize, ['build', join(k8sDir, path)])
  return { yaml, objects: parseManifests(yaml) }
}

export function parseManifests(yaml: string): K8sObject[] {
  return parseAllDocuments(yaml)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'))
      return doc.toJS() as K8sObject | null
    })
    .filter((o): o is K8sObject => o !== null)
}

export async function readManifests(file: string): Promise<Rendered> {
  const yaml = await readFile(file, 'utf8')
  return { yaml, objects: parseManifests(yaml) }
}

export interface ValidationResult {
  kubernetesVersion: string
  /** Valid objects per input name. */
  valid: Record<string, number>
  problems: string[]
}

/**
 * kubeconform, strict, against the Kubernetes API schemas of each pinned version plus the CRDs of KEDA, the
 * Prometheus Operator, the Gateway API, CloudNativePG and Strimzi (ensureKubernetesSchemas), from local
 * files only. A kind with no schema is a problem, not a skip. Inputs are named manifests (one
 * kubeconform run per Kubernetes version covers them all: compiling the schemas is the slow part).
 */
export async function validate(
  inputs: Record<string, string>,
  log: Log = stderrLog,
): Promise<ValidationResult[]> {
  const [kubeconform, schemas] = await Promise.all([ensureKubeconform(log), ensureKubernetesSchemas(log)])
  const dir = await mkdtemp(join(tmpdir(), 'deploy-checks-'))
  try {
    const files: Record<string, string> = {}
    for (const [name, yaml] of Object.entries(inputs)) {
      files[name] = join(dir, `${name.replaceAll(/[^\w.-]/g, '_')}.yaml`)
      await writeFile(files[name] as string, yaml)
    }
    return await Promise.all(
      Object.entries(schemas).map(async ([version, folder]) => {
        const result = await run(kubeconform, [
          '-strict',
          '-verbose',
          '-output',
          'json',
          '-schema-location',
          `${folder}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
          ...Object.values(files),
        ])
        const report = JSON.parse(result.stdout || '{"resources":[]}') as {
          resources: { filename: string; kind: string; name: string; status: string; msg: string }[]
        }
        const nameOf = (file: string) => Object.keys(files).find((n) => files[n] === file) ?? file
        const valid = Object.fromEntries(Object.keys(files).map((n) => [n, 0]))
        const problems: string[] = []
        for (const r of report.resources) {
          if (r.status === 'statusValid') valid[nameOf(r.filename)] = (valid[nameOf(r.filename)] ?? 0) + 1
          else
            problems.push(
              `${nameOf(r.filename)}: ${r.kind}/${r.name}: ${r.status.replace(/^status/, '')} ${r.msg}`,
            )
        }
        if (result.code !== 0 && problems.length === 0)
          problems.push(`kubeconform exited ${result.code}: ${result.stderr}`)
        return { kubernetesVersion: version, valid, problems }
      }),
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// --- helpers over rendered objects -------------------------------------------------------------------

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name)
}

export function get(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = find(objects, kind, name)
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`)
  return found
}

/** Deployments, StatefulSets and Jobs: everything that runs pods. */
export function workloads(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => ['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob'].includes(o.kind))
}

/** The workload running a service, whichever kind an overlay made it. */
export function workloadOf(objects: K8sObject[], name: string): K8sObject {
  const found = objects.find(
    (o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === name,
  )
  if (!found) throw new Error(`no Deployment or StatefulSet ${name}`)
  return found
}

// biome-ignore lint/suspicious/noExplicitAny: see K8sObject
export function podTemplate(workload: K8sObject): { metadata: any; spec: any } {
  return workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template
}

/** Go-style duration ("20s", "1m30s", "500ms") in seconds. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 }
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`bad duration ${text}`)
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0)
}

/** Kubernetes quantity ("512Mi", "1Gi", "268435456") in bytes. */
export function quantityBytes(text: string | number): number {
  if (typeof text === 'number') return text
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text)
  if (!match) throw new Error(`bad quantity ${text}`)
  const factor: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  }
  return Number(match[1]) * (match[2] ? (factor[match[2]] as number) : 1)
}

/**
 * The environment a container starts with, from its ConfigMaps and Secrets as rendered, plus the
 * values of Secrets made outside the manifests (`external`, keyed by Secret name). Returns the variables
 * and where each came from.
 */
export function containerEnvironment(
  objects: K8sObject[],
  // biome-ignore lint/suspicious/noExplicitAny: a container spec
  container: any,
  external: Record<string, Record<string, string>> = {},
): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {}
  const problems: string[] = []
  const secretData = (name: string): Record<string, string> | undefined => {
    const secret = find(objects, 'Secret', name)
    if (secret) {
      const data: Record<string, string> = { ...(secret.stringData ?? {}) }
      for (const [k, v] of Object.entries(secret.data ?? {}))
        data[k] = Buffer.from(String(v), 'base64').toString('utf8')
      return data
    }
    return external[name]
  }
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const cm = find(objects, 'ConfigMap', source.configMapRef.name)
      if (!cm) problems.push(`envFrom ConfigMap ${source.configMapRef.name} does not exist`)
      else Object.assign(env, cm.data ?? {})
    } else if (source.secretRef) {
      const data = secretData(source.secretRef.name)
      if (!data) problems.push(`envFrom Secret ${source.secretRef.name} is unknown`)
      else Object.assign(env, data)
    }
  }
  for (const entry of container.env ?? []) {
    if ('value' in entry) env[entry.name] = String(entry.value)
    else if (entry.valueFrom?.secretKeyRef) {
      const { name, key } = entry.valueFrom.secretKeyRef
      const value = secretData(name)?.[key]
      if (value === undefined) problems.push(`${entry.name}: Secret ${name} has no key ${key}`)
      else env[entry.name] = value
    } else if (entry.valueFrom?.configMapKeyRef) {
      const { name, key } = entry.valueFrom.configMapKeyRef
      const value = find(objects, 'ConfigMap', name)?.data?.[key]
      if (value === undefined) problems.push(`${entry.name}: ConfigMap ${name} has no key ${key}`)
      else env[entry.name] = value
    } else problems.push(`${entry.name}: unsupported env source`)
  }
  return { env, problems }
}

export const overlayDir = (overlay: Overlay) => `overlays/${overlay}`

/** Where a file a container reads comes from: a key of a Secret, through a secret volume. */
export interface SecretFile {
  secretName: string
  key: string
  /** The volume's `items`: undefined when it projects every key of the Secret. */
  items?: { key: string; path: string }[]
}

/**
 * The Secret key a container sees as the file at `path`: the secret volume mounted at a directory above
 * it, and the item projected to the rest of the path (or the key of that name when the volume projects
 * every key). Undefined when no secret volume provides that file.
 */
export function secretFile(
  // biome-ignore lint/suspicious/noExplicitAny: a pod spec
  podSpec: any,
  // biome-ignore lint/suspicious/noExplicitAny: a container spec
  container: any,
  path: string,
): SecretFile | undefined {
  for (const mount of container.volumeMounts ?? []) {
    const dir = String(mount.mountPath).replace(/\/$/, '')
    if (!path.startsWith(`${dir}/`)) continue
    const rest = path.slice(dir.length + 1)
    const secret = (podSpec.volumes ?? []).find((v: { name: string }) => v.name === mount.name)?.secret
    if (!secret) continue
    const items: SecretFile['items'] = secret.items
    const key = items ? items.find((i) => i.path === rest)?.key : rest
    if (key !== undefined) return { secretName: secret.secretName, key, ...(items ? { items } : {}) }
  }
  return undefined
}
