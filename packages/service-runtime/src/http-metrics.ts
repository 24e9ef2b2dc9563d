import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, type Registry } from 'prom-client'

const startTimes = new WeakMap<object, bigint>()

/** Request counts and latency per route and status, on the given registry. */
export const httpMetrics = fp<{ registry: Registry }>(
  async (app: FastifyInstance, { registry }) => {
    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers: [registry],
    })
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request received to response sent, by method, route and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
    app.addHook('onRequest', async (request) => {
      startTimes.set(request, process.hrtime.bigint())
    })
    app.addHook('onResponse', async (request, reply) => {
      const started = startTimes.get(request)
      // NOTE: unknown paths share one label so that scanners cannot blow up the series count.
      const labels = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      }
      requests.inc(labels)
      if (started !== undefined) duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9)
    })
  },
  { name: 'http-metrics' },
)
