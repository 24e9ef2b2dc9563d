// NetworkPolicy evaluation: which connections the rendered policies allow between pods (and addresses
// outside the cluster), so that a test states the intended traffic as a list and any drift shows.
import { type K8sObject, podTemplate, workloads } from './k8s.js'

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
  // The policies of `type` that select `pod` let `peer` through: none selects it, or one has a rule whose
  // peers match and whose ports include the destination's.
  const lets = (pod: Endpoint, type: 'Egress' | 'Ingress', peer: Endpoint) => {
    const [rulesKey, peersKey] =
      type === 'Egress' ? (['egress', 'to'] as const) : (['ingress', 'from'] as const)
    const applied = applying(pod, type)
    return (
      applied.length === 0 ||
      applied.some((p) =>
        // biome-ignore lint/suspicious/noExplicitAny: an egress or ingress rule
        (p.spec[rulesKey] ?? []).some((rule: any) => {
          const peers = rule[peersKey] ?? []
          // biome-ignore lint/suspicious/noExplicitAny: a peer
          const peerOk = peers.length === 0 || peers.some((q: any) => peerMatches(q, namespace, peer))
          return peerOk && portMatches(rule.ports, to, port, protocol)
        }),
      )
    )
  }
  if (inScope(from) && !lets(from, 'Egress', to)) return false
  if (inScope(to) && !lets(to, 'Ingress', from)) return false
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
