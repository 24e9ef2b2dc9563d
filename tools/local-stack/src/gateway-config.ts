import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findRepoRoot } from './repo-root.js'

/**
 * The gateway's one configuration: docker-compose.yml mounts it into the nginx image, `npm start` and the
 * deploy checks render it here and run Debian's nginx with it, and a deploy check holds the Kubernetes
 * Ingress to its routes. Edit routing there, nowhere else.
 */
export const GATEWAY_TEMPLATE = join(
  findRepoRoot(dirname(fileURLToPath(import.meta.url))),
  'deploy/compose/nginx/templates/default.conf.template',
)

/** The template's variables, named as compose's gateway service sets them. */
export interface GatewayVariables {
  /** The port nginx listens on. */
  GATEWAY_PORT: string
  /** host:port of ingest-api and of analytics-api. */
  INGEST_API_ADDR: string
  ANALYTICS_API_ADDR: string
  /**
   * The DNS server nginx asks for the services' names while it runs (Compose: Docker's 127.0.0.11).
   * startGateway fills in the host's own (hostResolver) when it is not given.
   */
  GATEWAY_RESOLVER?: string
}

/**
 * The first nameserver of a resolv.conf, as nginx's `resolver` takes it (an IPv6 address in brackets);
 * 127.0.0.1 when there is none. Under `npm start` the services' addresses are IP literals, which nginx
 * never looks up, but the template's `resolver` needs an address, and a real one keeps a host name in
 * INGEST_API_ADDR working.
 */
export function hostResolver(resolvConf: string): string {
  const address = /^\s*nameserver\s+(\S+)/m.exec(resolvConf)?.[1]
  if (!address) return '127.0.0.1'
  // A link-local IPv6 address carries its interface (%eth0), which nginx does not take.
  return address.includes(':') ? `[${address.replace(/%.*$/, '')}]` : address
}

/**
 * The nginx image's template step (docker-entrypoint.d/20-envsubst-on-templates.sh): every ${NAME} or
 * $NAME whose NAME is in the environment is replaced; anything else ($host, $status) is left to nginx.
 */
export function renderNginxTemplate(template: string, env: Record<string, string>): string {
  return template.replaceAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a, b) => {
    const name = (a ?? b) as string
    return name in env ? (env[name] as string) : whole
  })
}

/**
 * The main configuration around the rendered template, with everything nginx writes kept inside `dir`.
 * The http {} block gives the template the context the image's nginx.conf gives conf.d/*.conf (default
 * type, sendfile, its 65 s client keep-alive); the rest is what running as a child process needs.
 */
export function nginxMainConfig(dir: string, siteConfig: string): string {
  return [
    'daemon off;',
    // One process, as whoever runs the stack: no workers to drop privileges to, so the temp paths below
    // need no permissions for another user. Fine for one developer's traffic, not for production.
    'master_process off;',
    `pid ${join(dir, 'nginx.pid')};`,
    // To stderr, which the stack sends to the gateway's log file.
    'error_log stderr notice;',
    'events { worker_connections 1024; }',
    'http {',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  keepalive_timeout 65;',
    `  access_log ${join(dir, 'access.log')};`,
    // Debian's compiled-in temp paths are under /var/lib/nginx, which only root may write.
    `  client_body_temp_path ${join(dir, 'tmp/body')};`,
    `  proxy_temp_path ${join(dir, 'tmp/proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'tmp/fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'tmp/uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'tmp/scgi')};`,
    `  include ${siteConfig};`,
    '}',
    '',
  ].join('\n')
}
