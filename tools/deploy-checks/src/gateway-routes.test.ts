// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} here is the gateway template's syntax, not a JavaScript template
import { STATUS_CODES } from 'node:http'
import { ErrorBody } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import {
  type Directive,
  ingressRoutes,
  loadGatewayTemplate,
  loadIngress,
  parseNginx,
  routeKeys,
  templateRoutes,
} from './gateway-routes.js'

// One routing table for three gateways: compose's nginx and `npm start` run the same template; the
// Kubernetes Ingress is written apart (ingress-nginx generates its own nginx configuration), so it is
// held to the template here, path by path and limit by limit.

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

describe('the gateway template and the Kubernetes Ingress', () => {
  it('route the same paths to the same services', async () => {
    const { routes } = await templateRoutes()
    const fromIngress = ingressRoutes(await loadIngress())
    expect(routeKeys(routes)).toContain('exact /ads/click -> ingest-api')
    expect(routeKeys(routes)).toContain('prefix /track/ -> ingest-api')
    expect(routeKeys(routes)).toContain('prefix / -> analytics-api')
    expect(routeKeys(fromIngress)).toEqual(routeKeys(routes))
  })

  it('mean the same by a prefix: "/" or a path ending in "/" (nginx matches /ads as a string prefix of /adsx)', async () => {
    const { routes } = await templateRoutes()
    for (const route of routes.filter((r) => r.match === 'prefix')) expect(route.path).toMatch(/\/$/)
  })

  it('keep the gateway’s own answers (health, error pages) off the API’s paths', async () => {
    const { own } = await templateRoutes()
    for (const path of own) expect(path, path).toMatch(/^@|^\/gateway\//)
  })

  it('refuse bodies over the same size and wait as long for a service', async () => {
    const { server } = await loadGatewayTemplate()
    const annotations = (await loadIngress()).metadata.annotations ?? {}
    const value = (name: string) => directive(server, name)[0]?.args[0]
    const seconds = (text: string | undefined) => Number(/^(\d+)s?$/.exec(text ?? '')?.[1] ?? Number.NaN)
    expect(annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBe(value('client_max_body_size'))
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-connect-timeout'])).toBe(
      seconds(value('proxy_connect_timeout')),
    )
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBe(
      seconds(value('proxy_read_timeout')),
    )
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
