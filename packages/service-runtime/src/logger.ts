import { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import type { Logger } from 'pino'
import { pino, stdTimeFunctions } from 'pino'

/** JSON logs, one object per line, with the service name and ISO time on each. */
export function loggerOptions(service: string, level: string) {
  return {
    level,
    base: { service },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: ['req.headers.authorization', 'req.headers.cookie'],
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
