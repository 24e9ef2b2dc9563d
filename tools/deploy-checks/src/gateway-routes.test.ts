// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} here is the gateway template's syntax, not a JavaScript template
import { readFile } from 'node:fs/promises'
import { STATUS_CODES } from 'node:http'
import { join } from 'node:path'
import { ErrorBody } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import {
  type Directive,
  httpRouteRoutes,
  ingressRoutes,
  loadGatewayTemplate,
  loadHttpRoute,
  loadIngress,
  loadRouteTable,
  parseNginx,
  routeFor,
  routeKeys,
  templateRoutes,
} from './gateway-routes.js'
import { repoRoot } from './paths.js'

// One routing table (deploy/routes.yaml) for every gateway: the nginx template that Compose and
// `npm start` run, the Gateway API HTTPRoute and the plain Ingress are each parsed and held to it, path
// by path; and the table itself to what the services serve (their committed OpenAPI descriptions).

const directive = (directives: Directive[], name: string) => directives.filter((d) => d.name === name)

describe('parseNginx', () => {
  it('reads directives, blocks, quoted strings with braces and template variables', () => {
    const parsed = parseNginx(`# comment { not a block
      upstream api { server \${API_ADDR}; keepalive 16; }
      server { location = /x { return 200 '{"a":"}"}'; } }`)
    expect(parsed).toEqual([
      {
        name: 'upstream',
        args: ['api'],
        block: [
          { name: 'server', args: ['${API_ADDR}'] },
          { name: 'keepalive', args: ['16'] },
        ],
      },
      {
        name: 'server',
        args: [],
        block: [
          { name: 'location', args: ['=', '/x'], block: [{ name: 'return', args: ['200', '{"a":"}"}'] }] },
        ],
      },
    ])
  })

  it('refuses unbalanced braces', () => {
    expect(() => parseNginx('server { listen 80;')).toThrow(/unbalanced/)
    expect(() => parseNginx('listen 80; }')).toThrow(/unexpected }/)
  })
})

describe('deploy/routes.yaml, the one routing table', () => {
  it('is what the local gateway routes, local-only routes included', async () => {
    const table = await loadRouteTable()
    const { routes } = await templateRoutes()
    expect(routeKeys(routes)).toEqual(routeKeys(table))
  })

  it('is what the HTTPRoute and the Ingress route, without the local-only routes', async () => {
    const publicRoutes = (await loadRouteTable()).filter((r) => !r.local)
    expect(routeKeys(httpRouteRoutes(await loadHttpRoute()))).toEqual(routeKeys(publicRoutes))
    expect(routeKeys(ingressRoutes(await loadIngress()))).toEqual(routeKeys(publicRoutes))
  })

  it('means the same by a prefix everywhere: every prefix ends in "/" (nginx matches /ads as a string prefix of /adsx)', async () => {
    for (const route of (await loadRouteTable()).filter((r) => r.match === 'prefix'))
      expect(route.path).toMatch(/\/$/)
  })

  it('sends every path the services document (openapi/*.json) to the service that serves it', async () => {
    const publicRoutes = (await loadRouteTable()).filter((r) => !r.local)
    for (const service of ['ingest-api', 'analytics-api']) {
      const description = JSON.parse(
        await readFile(join(repoRoot, 'openapi', `${service}.json`), 'utf8'),
      ) as { paths: Record<string, unknown> }
      const paths = Object.keys(description.paths)
      expect(paths.length).toBeGreaterThan(2)
      for (const path of paths) {
        const concrete = path.replaceAll(/\{[^}]+\}/g, '7')
        expect(routeFor(publicRoutes, concrete), `${path} (${concrete})`).toBe(service)
      }
    }
    // Not in the descriptions (not an API), still public: the dashboard, and its redirect to itself.
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/assets/app.js'])
      expect(routeFor(publicRoutes, path), path).toBe('analytics-api')
  })

  it('keeps the services’ operational routes off every public gateway, and /docs local only', async () => {
    const table = await loadRouteTable()
    const publicRoutes = table.filter((r) => !r.local)
    for (const path of [
      '/',
      '/docs',
      '/docs/json',
      '/docs/static/index.html',
      '/livez',
      '/readyz',
      '/metrics',
    ])
      expect(routeFor(publicRoutes, path), path).toBeUndefined()
    for (const path of ['/docs', '/docs/json']) expect(routeFor(table, path), path).toBe('analytics-api')
    for (const path of ['/livez', '/readyz', '/metrics']) expect(routeFor(table, path), path).toBeUndefined()
  })
})

describe('the gateways beyond their paths', () => {
  it('keep the local gateway’s own answers (health, error pages, the 404 fallback) off the API’s paths', async () => {
    const { own } = await templateRoutes()
    for (const path of own) expect(path, path).toMatch(/^@|^\/gateway\/|^\/$/)
    expect(own).toContain('/')
  })

  it('wait as long for a service: the HTTPRoute’s request timeout is nginx’s proxy_read_timeout', async () => {
    const { server } = await loadGatewayTemplate()
    const readTimeout = directive(server, 'proxy_read_timeout')[0]?.args[0]
    expect(readTimeout).toMatch(/^\d+s$/)
    for (const rule of (await loadHttpRoute()).spec.rules)
      expect(rule.timeouts?.request, JSON.stringify(rule.matches)).toBe(readTimeout)
  })

  it('tie the Ingress to no controller: no annotations, the cluster’s default IngressClass', async () => {
    const ingress = await loadIngress()
    expect(ingress.metadata.annotations ?? {}).toEqual({})
    expect(ingress.spec.ingressClassName).toBeUndefined()
  })
})

describe('the gateway template’s own error answers', () => {
  it('are an ErrorBody for every status nginx may answer itself, with Node’s reason phrase', async () => {
    const { top, server } = await loadGatewayTemplate()
    const map = directive(top, 'map').find((m) => m.args[1] === '$gateway_error')
    const entries = new Map((map?.block ?? []).map((d) => [d.name, d.args[0] ?? '']))
    const location = directive(server, 'location').find((l) => l.args[0] === '@gateway_error')
    const body = directive(location?.block ?? [], 'return')[0]?.args[1] ?? ''
    const statuses = directive(server, 'error_page').flatMap((page) => {
      const target = page.args.at(-1)
      expect(target).toBe('@gateway_error')
      const overwrite = page.args.find((a) => a.startsWith('='))
      return overwrite ? [overwrite.slice(1)] : page.args.slice(0, -1)
    })
    expect(statuses).toEqual(expect.arrayContaining(['400', '413', '431', '502', '504']))
    for (const status of statuses) {
      const fields = entries.get(status)
      expect(fields, `map entry for ${status}`).toBeDefined()
      const reply = JSON.parse(
        body.replace('$status', status).replace('$gateway_error', fields ?? ''),
      ) as Record<string, unknown>
      expect(Object.keys(reply).sort(), status).toEqual(Object.keys(ErrorBody.properties).sort())
      expect(reply.statusCode).toBe(Number(status))
      expect(reply.error).toBe(STATUS_CODES[Number(status)])
      expect(reply.code).toMatch(/^GATEWAY_[A-Z_]+$/)
    }
  })
})
