import type { ErrorBody } from '@adtrack/contracts'
import type { FastifyReply } from 'fastify'

/** Seconds a client is asked to wait before retrying, by why it was refused. */
export const RETRY_AFTER_SECONDS = { overloaded: 1, not_durable: 1, spool_full: 5 } as const

/**
 * A 503 in the ErrorBody shape, sent straight from a hook: shedding load must be cheap (no error log,
 * no body parsing), and it tells the client when to come back.
 */
export function shed(
  reply: FastifyReply,
  code: string,
  message: string,
  retryAfterSeconds: number,
): ErrorBody {
  reply.code(503).header('retry-after', String(retryAfterSeconds))
  return { statusCode: 503, error: 'Service Unavailable', message, code }
}

export function overloaded(reply: FastifyReply): ErrorBody {
  return shed(reply, 'OVERLOADED', 'the server is overloaded; retry shortly', RETRY_AFTER_SECONDS.overloaded)
}
