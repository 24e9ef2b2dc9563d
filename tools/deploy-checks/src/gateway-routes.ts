import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GATEWAY_TEMPLATE } from '@adtrack/local-stack'
import { parse as parseYaml } from 'yaml'
import { composeFile, deployDir, k8sDir } from './paths.js'

/** One routing rule: which service a path goes to, and whether the path must match exactly. */
export interface Route {
  match: 'exact' | 'prefix'
  path: string
  service: string
}

/** A route of deploy/routes.yaml; `local` routes are on the Compose and `npm start` gateway only. */
export interface TableRoute extends Route {
  local?: boolean
}

export const routeTableFile = join(deployDir, 'routes.yaml')

/** deploy/routes.yaml: the one routing table every gateway is held to. */
export async function loadRouteTable(): Promise<TableRoute[]> {
  const { routes } = parseYaml(await readFile(routeTableFile, 'utf8')) as { routes: TableRoute[] }
  for (const r of routes) {
    if (r.match !== 'exact' && r.match !== 'prefix') throw new Error(`${r.path}: match ${r.match}`)
    if (!r.path.startsWith('/')) throw new Error(`${r.path}: not an absolute path`)
  }
  return routes
}

/**
 * Where a gateway sends `path` by these routes: an exact route first, then the longest prefix. With
 * prefixes ending in "/" (the table's rule), nginx's string prefixes and the Ingress's and HTTPRoute's
 * path-element prefixes agree on every path but the prefix without its slash (see routes.yaml).
 */
export function routeFor(routes: Route[], path: string): string | undefined {
  const exact = routes.find((r) => r.match === 'exact' && r.path === path)
  if (exact) return exact.service
  return routes
    .filter((r) => r.match === 'prefix' && path.startsWith(r.path))
    .sort((a, b) => b.path.length - a.path.length)[0]?.service
}

/** One nginx directive: its name, its arguments (quotes removed), and its block when it has one. */
export interface Directive {
  name: string
  args: string[]
  block?: Directive[]
}

/**
 * nginx's configuration syntax, enough for the gateway template: words and quoted strings, `;` ending a
 * directive, `{ }` its block, `#` comments. Throws on unbalanced braces; unlike nginx, knows no directive.
 */
export function parseNginx(text: string): Directive[] {
  // A word may hold ${NAME} (the template's variables): its braces are not a block's.
  const tokens = text.matchAll(
    /#[^\n]*|'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|([{};])|((?:\$\{\w+\}|[^\s{};'"#])+)/g,
  )
  const stack: Directive[][] = [[]]
  let words: string[] = []
  for (const [, single, double, punct, word] of tokens) {
    const isComment =
      single === undefined && double === undefined && punct === undefined && word === undefined
    if (isComment) continue
    if (punct === undefined) {
      words.push(word ?? unquote(single ?? double ?? ''))
      continue
    }
    const current = stack.at(-1) as Directive[]
    if (punct === '}') {
      if (stack.length === 1 || words.length > 0) throw new Error(`unexpected } after "${words.join(' ')}"`)
      stack.pop()
      continue
    }
    const [name, ...args] = words
    if (!name) throw new Error(`"${punct}" without a directive`)
    words = []
    const directive: Directive = { name, args }
    current.push(directive)
    if (punct === '{') {
      directive.block = []
      stack.push(directive.block)
    }
  }
  if (stack.length !== 1 || words.length > 0) throw new Error('unbalanced braces or a directive without ;')
  return stack[0] as Directive[]
}

/** nginx's escapes inside quotes: \n, \r, \t, and a backslash before anything else stands for it. */
function unquote(quoted: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t' }
  return quoted.replaceAll(/\\(.)/g, (_, c: string) => named[c] ?? c)
}

const find = (directives: Directive[] | undefined, name: string) =>
  (directives ?? []).filter((d) => d.name === name)

/** The gateway template parsed: all of it, its one server {} block, and its upstreams. */
export async function loadGatewayTemplate(): Promise<{
  top: Directive[]
  server: Directive[]
  upstreams: Directive[]
}> {
  const top = parseNginx(await readFile(GATEWAY_TEMPLATE, 'utf8'))
  const servers = find(top, 'server')
  if (servers.length !== 1) throw new Error(`the gateway template has ${servers.length} server blocks, not 1`)
  return { top, server: servers[0]?.block ?? [], upstreams: find(top, 'upstream') }
}

/**
 * The template's routes: each location that proxies (`proxy_pass http://$name`), with its variable's
 * `set $name ${VARIABLE}` resolved to a service through docker-compose.yml's gateway environment
 * (INGEST_API_ADDR: ingest-api:8080). The locations that answer themselves (health, error pages, the
 * fallback 404) are returned apart, as the gateway's own.
 */
export async function templateRoutes(): Promise<{ routes: Route[]; own: string[] }> {
  const { server } = await loadGatewayTemplate()
  const compose = parseYaml(await readFile(composeFile, 'utf8')) as {
    services: { gateway: { environment: Record<string, string> } }
  }
  const env = compose.services.gateway.environment
  const serviceOf = (name: string): string => {
    const set = find(server, 'set').find((d) => d.args[0] === `$${name}`)
    const address = set?.args[1] ?? ''
    const variable = /^\$\{(\w+)\}$/.exec(address)?.[1]
    const host = variable && env[variable]?.split(':')[0]
    if (!host) throw new Error(`$${name}: set to "${address}", which names no compose gateway variable`)
    return host
  }
  const routes: Route[] = []
  const own: string[] = []
  for (const location of find(server, 'location')) {
    const [first, second] = location.args
    const path = second ?? first ?? ''
    const proxyPass = find(location.block, 'proxy_pass')[0]?.args[0]
    if (!proxyPass) {
      own.push(path)
      continue
    }
    if (second !== undefined && first !== '=')
      throw new Error(`location ${first} ${path}: only = or a prefix`)
    const name = /^http:\/\/\$(\w+)$/.exec(proxyPass)?.[1]
    if (!name) throw new Error(`location ${path}: proxy_pass ${proxyPass} is not http://$<variable>`)
    routes.push({ match: first === '=' ? 'exact' : 'prefix', path, service: serviceOf(name) })
  }
  return { routes, own }
}

export const ingressFile = join(k8sDir, 'components/ingress/ingress.yaml')
export const httpRouteFile = join(k8sDir, 'components/gateway-api/httproute.yaml')

interface Ingress {
  metadata: { annotations?: Record<string, string> }
  spec: {
    ingressClassName?: string
    rules: { http: { paths: { path: string; pathType: string; backend: { service: { name: string } } }[] } }[]
  }
}

/** components/ingress/ingress.yaml (overlays change only its host and TLS). */
export async function loadIngress(): Promise<Ingress> {
  return parseYaml(await readFile(ingressFile, 'utf8')) as Ingress
}

/** The Ingress's routes, in the same terms as the table's. */
export function ingressRoutes(ingress: Ingress): Route[] {
  return ingress.spec.rules.flatMap((rule) =>
    rule.http.paths.map((p) => {
      if (p.pathType !== 'Exact' && p.pathType !== 'Prefix')
        throw new Error(`${p.path}: pathType ${p.pathType} means something else to every controller`)
      return {
        match: p.pathType === 'Exact' ? ('exact' as const) : ('prefix' as const),
        path: p.path,
        service: p.backend.service.name,
      }
    }),
  )
}

export interface HttpRoute {
  spec: {
    parentRefs: { name: string; sectionName?: string }[]
    hostnames?: string[]
    rules: {
      matches?: { path?: { type?: string; value?: string }; method?: string; headers?: unknown }[]
      backendRefs?: { name: string; port?: number; kind?: string; weight?: number }[]
      filters?: unknown[]
      timeouts?: { request?: string; backendRequest?: string }
    }[]
  }
}

/** components/gateway-api/httproute.yaml (overlays change only its parentRefs). */
export async function loadHttpRoute(): Promise<HttpRoute> {
  return parseYaml(await readFile(httpRouteFile, 'utf8')) as HttpRoute
}

/**
 * The HTTPRoute's routes, in the same terms as the table's: one path match and one Service per rule, and
 * nothing else that would route differently from the other gateways (methods, headers, filters, weights).
 */
export function httpRouteRoutes(route: HttpRoute): Route[] {
  return route.spec.rules.map((rule) => {
    const [match, ...more] = rule.matches ?? []
    const [backend, ...others] = rule.backendRefs ?? []
    const path = match?.path
    if (!path?.value || more.length > 0 || match?.method || match?.headers)
      throw new Error(`a rule must match one path and nothing else: ${JSON.stringify(rule.matches)}`)
    if (!backend || others.length > 0 || (backend.kind ?? 'Service') !== 'Service' || rule.filters)
      throw new Error(`${path.value}: one Service backend and no filters`)
    if (path.type !== 'Exact' && path.type !== 'PathPrefix')
      throw new Error(`${path.value}: path type ${path.type} means something else to every implementation`)
    return { match: path.type === 'Exact' ? 'exact' : 'prefix', path: path.value, service: backend.name }
  })
}

/** Sorted and comparable: two tables route alike when these are equal. */
export const routeKeys = (routes: Route[]) => routes.map((r) => `${r.match} ${r.path} -> ${r.service}`).sort()
