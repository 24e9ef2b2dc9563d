import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GATEWAY_TEMPLATE } from '@adtrack/local-stack'
import { parse as parseYaml } from 'yaml'
import { composeFile, k8sDir } from './paths.js'

/** One routing rule: which service a path goes to, and whether the path must match exactly. */
export interface Route {
  match: 'exact' | 'prefix'
  path: string
  service: string
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
 * The template's routes: each location that proxies, with its upstream's `server ${VARIABLE}` resolved to
 * a service through docker-compose.yml's gateway environment (INGEST_API_ADDR: ingest-api:8080). The
 * locations that answer themselves (health, error pages) are returned apart, as the gateway's own.
 */
export async function templateRoutes(): Promise<{ routes: Route[]; own: string[] }> {
  const { server, upstreams } = await loadGatewayTemplate()
  const compose = parseYaml(await readFile(composeFile, 'utf8')) as {
    services: { gateway: { environment: Record<string, string> } }
  }
  const env = compose.services.gateway.environment
  const serviceOf = (upstream: string): string => {
    const block = upstreams.find((u) => u.args[0] === upstream)?.block
    const address = find(block, 'server')[0]?.args[0] ?? ''
    const variable = /^\$\{(\w+)\}$/.exec(address)?.[1]
    const host = variable && env[variable]?.split(':')[0]
    if (!host) throw new Error(`upstream ${upstream}: server ${address} names no compose gateway variable`)
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
    const upstream = /^http:\/\/([\w-]+)$/.exec(proxyPass)?.[1]
    if (!upstream) throw new Error(`location ${path}: proxy_pass ${proxyPass} is not http://<upstream>`)
    routes.push({ match: first === '=' ? 'exact' : 'prefix', path, service: serviceOf(upstream) })
  }
  return { routes, own }
}

interface Ingress {
  metadata: { annotations?: Record<string, string> }
  spec: {
    rules: { http: { paths: { path: string; pathType: string; backend: { service: { name: string } } }[] } }[]
  }
}

/** deploy/k8s/base/ingress.yaml (the overlays change only its host and TLS). */
export async function loadIngress(): Promise<Ingress> {
  return parseYaml(await readFile(join(k8sDir, 'base/ingress.yaml'), 'utf8')) as Ingress
}

/** The Ingress's routes, in the same terms as the template's. */
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

/** Sorted and comparable: two tables route alike when these are equal. */
export const routeKeys = (routes: Route[]) => routes.map((r) => `${r.match} ${r.path} -> ${r.service}`).sort()
