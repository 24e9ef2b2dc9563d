// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} here is envsubst's syntax, not a JavaScript template
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { GATEWAY_TEMPLATE, hostResolver, nginxMainConfig, renderNginxTemplate } from './gateway-config.js'

const variables = {
  GATEWAY_PORT: '18080',
  INGEST_API_ADDR: '127.0.0.1:18081',
  ANALYTICS_API_ADDR: '127.0.0.1:18082',
  GATEWAY_RESOLVER: '127.0.0.53',
}

describe('renderNginxTemplate', () => {
  it('replaces the variables it is given, in both forms, and leaves nginx variables alone', () => {
    const rendered = renderNginxTemplate(
      'listen ${GATEWAY_PORT}; $INGEST_API_ADDR $host ${status}',
      variables,
    )
    expect(rendered).toBe('listen 18080; 127.0.0.1:18081 $host ${status}')
  })

  it('leaves no ${NAME} in the gateway template once the four compose variables are given', () => {
    const rendered = renderNginxTemplate(readFileSync(GATEWAY_TEMPLATE, 'utf8'), variables)
    expect(rendered).not.toMatch(/\$\{/)
    expect(rendered).toContain('listen 18080;')
    expect(rendered).toContain('set $ingest_api 127.0.0.1:18081;')
    expect(rendered).toContain('set $analytics_api 127.0.0.1:18082;')
    expect(rendered).toMatch(/^resolver 127\.0\.0\.53 valid=\d+s/m)
  })
})

describe('hostResolver', () => {
  it('takes the first nameserver, brackets IPv6 without its zone, and falls back to loopback', () => {
    expect(hostResolver('# generated\nsearch lan\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n')).toBe(
      '10.0.0.2',
    )
    expect(hostResolver('nameserver fe80::1%eth0\n')).toBe('[fe80::1]')
    expect(hostResolver('')).toBe('127.0.0.1')
  })
})

describe('nginxMainConfig', () => {
  it('keeps every file nginx writes inside its directory, and includes the site in http {}', () => {
    const config = nginxMainConfig('/data/gateway', '/data/gateway/default.conf')
    const paths = [...config.matchAll(/^\s*(?:\w+_path|pid|access_log)\s+(\S+);/gm)].map((m) => m[1])
    expect(paths.length).toBeGreaterThanOrEqual(7)
    for (const path of paths) expect(path).toMatch(/^\/data\/gateway\//)
    expect(config).toMatch(/http \{[\s\S]*include \/data\/gateway\/default\.conf;[\s\S]*\}/)
    expect(config).toContain('daemon off;')
  })
})
