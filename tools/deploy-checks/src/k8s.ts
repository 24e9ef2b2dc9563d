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
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
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
 * kubeconform, strict, against the Kubernetes API schemas of each pinned version plus KEDA's CRD, from
 * local files only. A kind with no schema is a problem, not a skip. Inputs are named manifests (one
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

// --- NetworkPolicy evaluation -----------------------------------------------------------------------

/** A pod (or an address outside the cluster) that traffic may flow from or to. */
export interface Endpoint {
  name: string
  /** Absent for addresses outside the cluster (matched by ipBlock only). */
  namespace?: string
  namespaceLabels?: Record<string, string>
  labels?: Record<string, string>
  /** Port name -> number, as the pod's containers declare them (or the listening ports of an address). */
  ports: Record<string, number>
  ip?: string
  protocol?: 'TCP' | 'UDP'
}

// biome-ignore lint/suspicious/noExplicitAny: a label selector
function selects(selector: any, labels: Record<string, string> = {}): boolean {
  if (!selector) return true
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels
    const value = labels[e.key]
    if (e.operator === 'In' && !(has && e.values.includes(value))) return false
    if (e.operator === 'NotIn' && has && e.values.includes(value)) return false
    if (e.operator === 'Exists' && !has) return false
    if (e.operator === 'DoesNotExist' && has) return false
  }
  return true
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/')
  const toNumber = (address: string) => address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
  const block = 2 ** (32 - Number(bits))
  return Math.floor(toNumber(ip) / block) === Math.floor(toNumber(base) / block)
}

// biome-ignore lint/suspicious/noExplicitAny: a NetworkPolicyPeer
function peerMatches(peer: any, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!endpoint.ip || !ipInCidr(endpoint.ip, peer.ipBlock.cidr)) return false
    return !(peer.ipBlock.except ?? []).some((c: string) => ipInCidr(endpoint.ip as string, c))
  }
  if (endpoint.namespace === undefined) return false
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, endpoint.namespaceLabels)
    : endpoint.namespace === policyNamespace
  return namespaceOk && selects(peer.podSelector, endpoint.labels)
}

// biome-ignore lint/suspicious/noExplicitAny: NetworkPolicyPort list
function portMatches(ports: any[] | undefined, target: Endpoint, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false
    if (p.port === undefined) return true
    const number = typeof p.port === 'number' ? p.port : target.ports[p.port]
    if (number === undefined) return false
    return p.endPort ? port >= number && port <= p.endPort : port === number
  })
}

function policyTypes(policy: K8sObject): string[] {
  return policy.spec.policyTypes ?? (policy.spec.egress ? ['Ingress', 'Egress'] : ['Ingress'])
}

/**
 * Whether `from` may open a connection to `to` on `port`, by the NetworkPolicies of one namespace: the
 * source's egress policies and the destination's ingress policies must both allow it. Endpoints outside
 * that namespace are governed by their own namespaces' policies, which are not modelled (allowed).
 */
export function allowed(
  policies: K8sObject[],
  namespace: string,
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const inScope = (e: Endpoint) => e.namespace === namespace
  const applying = (e: Endpoint, type: string) =>
    policies.filter(
      (p) =>
        (p.metadata.namespace ?? namespace) === namespace &&
        policyTypes(p).includes(type) &&
        selects(p.spec.podSelector, e.labels),
    )
  if (inScope(from)) {
    const egress = applying(from, 'Egress')
    const ok =
      egress.length === 0 ||
      egress.some((p) =>
        // biome-ignore lint/suspicious/noExplicitAny: an egress rule
        (p.spec.egress ?? []).some((rule: any) => {
          const peers = rule.to ?? []
          // biome-ignore lint/suspicious/noExplicitAny: a peer
          const peerOk = peers.length === 0 || peers.some((peer: any) => peerMatches(peer, namespace, to))
          return peerOk && portMatches(rule.ports, to, port, protocol)
        }),
      )
    if (!ok) return false
  }
  if (inScope(to)) {
    const ingress = applying(to, 'Ingress')
    const ok =
      ingress.length === 0 ||
      ingress.some((p) =>
        // biome-ignore lint/suspicious/noExplicitAny: an ingress rule
        (p.spec.ingress ?? []).some((rule: any) => {
          const peers = rule.from ?? []
          // biome-ignore lint/suspicious/noExplicitAny: a peer
          const peerOk = peers.length === 0 || peers.some((peer: any) => peerMatches(peer, namespace, from))
          return peerOk && portMatches(rule.ports, to, port, protocol)
        }),
      )
    if (!ok) return false
  }
  return true
}

/** Pods of the rendered workloads as endpoints in their namespace. */
export function workloadEndpoints(objects: K8sObject[], namespace: string): Endpoint[] {
  return workloads(objects).map((w) => {
    const template = podTemplate(w)
    const ports: Record<string, number> = {}
    for (const c of template.spec.containers ?? [])
      for (const p of c.ports ?? []) ports[p.name ?? String(p.containerPort)] = p.containerPort
    return {
      name: w.metadata.name,
      namespace,
      namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
      labels: template.metadata?.labels ?? {},
      ports,
    }
  })
}

/** Every connection allowed between the endpoints, on each destination's ports, as "from -> to:port". */
export function connectivity(policies: K8sObject[], namespace: string, endpoints: Endpoint[]): string[] {
  const result: string[] = []
  for (const from of endpoints) {
    for (const to of endpoints) {
      if (from === to) continue
      // Traffic between two endpoints outside the namespace is not ours to judge.
      if (from.namespace !== namespace && to.namespace !== namespace) continue
      for (const port of new Set(Object.values(to.ports))) {
        if (allowed(policies, namespace, from, to, port, to.protocol ?? 'TCP'))
          result.push(`${from.name} -> ${to.name}:${port}`)
      }
    }
  }
  return result.sort()
}

export const overlayDir = (overlay: Overlay) => `overlays/${overlay}`
