import { TRACKING_QUERY } from '@adtrack/contracts'
import { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import type { Logger } from 'pino'
import { pino, stdTimeFunctions } from 'pino'

// The impression token's query parameter, wherever it stands in the query.
const TOKEN_IN_QUERY = new RegExp(`([?&]${TRACKING_QUERY.token}=)[^&#]*`, 'g')

/**
 * A request URL as the logs show it: an impression token (every tracking URL carries one) is a
 * credential to count events for that impression until it expires, so its value is left out.
 */
export function loggedUrl(url: string): string {
  return url.includes('?') ? url.replace(TOKEN_IN_QUERY, '$1[redacted]') : url
}

/** JSON logs, one object per line, with the service name and ISO time on each. */
export function loggerOptions(service: string, level: string) {
  return {
    level,
    base: { service },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    serializers: {
      // Fastify's own request fields, with the URL as loggedUrl gives it.
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: loggedUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  }
}

export function createLogger(service: string, level: string) {
  return pino(loggerOptions(service, level))
}

/** Fastify options for request ids: honour an incoming X-Request-Id, otherwise mint one. */
export const requestIdOptions = {
  requestIdHeader: 'x-request-id',
  logController: new LogController({ requestIdLogLabel: 'request_id' }),
  genReqId: () => crypto.randomUUID(),
} satisfies FastifyServerOptions

/** Sends the request id back, so a client can quote it when reporting a problem. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
}

/**
 * Process warnings go to the JSON log instead of plain text on stderr.
 * NOTE: kafkajs 2.2.4 schedules a timer with a negative delay on every connection (its request queue
 * starts with throttledUntil = -1); Node 24 clamps it to 1 ms and warns. Harmless, so it is dropped.
 */
export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning')
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return
    logger.warn({ warning: { name: warning.name, message: warning.message } }, 'process warning')
  })
}
