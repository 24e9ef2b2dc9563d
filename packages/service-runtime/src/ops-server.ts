import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

/** A dependency the service cannot work without; readiness fails while any check throws. */
export type ReadinessCheck = () => Promise<void>

/**
 * Probe state shared by a service's HTTP port and its metrics port.
 * Liveness says only that the process answers; readiness also says it is not shutting down and can
 * reach what it needs, so a load balancer routes around it rather than restarting it.
 */
export class Readiness {
  private shuttingDown = false
  constructor(private readonly checks: Record<string, ReadinessCheck>) {}

  beginShutdown(): void {
    this.shuttingDown = true
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    if (this.shuttingDown) return { ready: false, checks: { shutdown: 'in progress' } }
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000)
          return [name, 'ok'] as const
        } catch (err) {
          return [name, (err as Error).message || 'failed'] as const
        }
      }),
    )
    return { ready: entries.every(([, state]) => state === 'ok'), checks: Object.fromEntries(entries) }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Adds GET /livez and GET /readyz to an instance. */
export function addProbeRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/livez', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const report = await readiness.report()
    reply.code(report.ready ? 200 : 503)
    return { status: report.ready ? 'ready' : 'not ready', checks: report.checks }
  })
}

/** The metrics port: /metrics for Prometheus plus the probes, separate from public traffic. */
export async function startOpsServer(opts: {
  port: number
  host?: string
  registry: Registry
  readiness: Readiness
}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.get('/metrics', async (_request, reply) => {
    reply.type(opts.registry.contentType)
    return opts.registry.metrics()
  })
  addProbeRoutes(app, opts.readiness)
  await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0' })
  return app
}
