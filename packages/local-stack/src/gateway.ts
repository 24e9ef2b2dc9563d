import httpProxy from '@fastify/http-proxy'
import Fastify from 'fastify'

export interface GatewayUpstreams {
  ingest: string
  analytics: string
}

/**
 * The Kubernetes Ingress's routing: clicks (POST /ads/click, the batch POST /ads/clicks, anything under
 * /ads/click*) go to ingest-api, everything else to analytics-api. Bodies stream through unparsed, so a
 * batch's size is judged by ingest-api alone (413 past its limit).
 */
export function upstreamFor(url: string, upstreams: GatewayUpstreams): string {
  return url.startsWith('/ads/click') ? upstreams.ingest : upstreams.analytics
}

/** X-Forwarded-For as a proxy extends it: earlier hops first, the client that reached us last. */
export function appendForwardedFor(existing: string | string[] | undefined, clientIp: string): string {
  const earlier = (Array.isArray(existing) ? existing.join(', ') : (existing ?? '')).trim()
  return earlier ? `${earlier}, ${clientIp}` : clientIp
}

export interface Gateway {
  readonly url: string
  close(): Promise<void>
}

/** A development stand-in for the Ingress, on localhost:port. */
export async function startGateway(opts: { port: number; upstreams: GatewayUpstreams }): Promise<Gateway> {
  const app = Fastify({ logger: false })
  await app.register(httpProxy, {
    // No fixed upstream: getUpstream picks one per request.
    upstream: '',
    // Bodies are streamed through untouched whatever their content type: ingest-api parses every body as
    // JSON itself, including the form-encoded type `curl -d` sends.
    proxyPayloads: true,
    replyOptions: {
      getUpstream: (request) => upstreamFor(request.url, opts.upstreams),
      rewriteRequestHeaders: (request, headers) => ({
        ...headers,
        'x-forwarded-for': appendForwardedFor(headers['x-forwarded-for'], request.ip),
      }),
    },
  })
  // localhost: both 127.0.0.1 and ::1, whichever `curl localhost` tries first.
  await app.listen({ host: 'localhost', port: opts.port })
  return { url: `http://localhost:${opts.port}`, close: () => app.close() }
}
