import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'

/** An error whose status code and message are meant for the client. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/**
 * Every error becomes the ErrorBody shape. 4xx messages pass through (they tell the client what to fix);
 * 5xx messages are logged and replaced, since they may carry internals.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    const statusCode = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (statusCode >= 500) request.log.error({ err }, 'request failed')
    if (err instanceof HttpError) reply.headers(err.headers)
    const fastifyCode = (err as FastifyError).code
    const validation = (err as FastifyError).validation
    reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: statusCode >= 500 ? 'Internal Server Error' : err.message,
      code: err instanceof HttpError ? err.code : validation ? 'VALIDATION_FAILED' : fastifyCode,
    })
  })
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.split('?')[0]}`,
      code: 'ROUTE_NOT_FOUND',
    })
  })
}
