import { STATUS_CODES } from 'node:http'
import { patternMeaning } from '@adtrack/contracts'
import type { FastifyError, FastifyInstance } from 'fastify'
import { trackAllowedMethods } from './allowed-methods.js'

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
 * 5xx messages are logged and replaced, since they may carry internals. A known path asked with a method
 * it does not answer is a 405 with `Allow`, an unknown path a 404. Call it before adding any route.
 */
export function installErrorHandling(app: FastifyInstance): void {
  const methods = trackAllowedMethods(app)
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    const statusCode = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (statusCode >= 500) request.log.error({ err }, 'request failed')
    if (err instanceof HttpError) reply.headers(err.headers)
    const fastifyCode = (err as FastifyError).code
    const validation = (err as FastifyError).validation
    reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: statusCode >= 500 ? 'Internal Server Error' : (validationMessage(err) ?? err.message),
      code: err instanceof HttpError ? err.code : validation ? 'VALIDATION_FAILED' : fastifyCode,
    })
  })
  // NOTE: a preParsing hook, not the not-found handler: it runs before the body is read, so a wrong method
  // with an odd body (none, a malformed one, an unknown content type) is still a 405, not a 400 or 415.
  app.addHook('preParsing', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    const routed = request.routeOptions.url
    const wrongMethod = request.is404 || (routed !== undefined && methods.shadowed(path, routed))
    if (!wrongMethod) return
    const allowed = methods.allowed(path)
    if (allowed.length === 0) return
    reply.code(405).header('allow', allowed.join(', '))
    return reply.send({
      statusCode: 405,
      error: 'Method Not Allowed',
      message: `${path} does not answer ${request.method}; it answers ${allowed.join(', ')}`,
      code: 'METHOD_NOT_ALLOWED',
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

/**
 * A failed pattern in words ("body/viewer_id must not contain control characters or invalid Unicode")
 * rather than Ajv's "must match pattern" and the pattern; undefined to keep the validator's message.
 */
function validationMessage(err: FastifyError | HttpError): string | undefined {
  const first = (err as FastifyError).validation?.[0]
  if (first?.keyword !== 'pattern') return undefined
  const meaning = patternMeaning(first.params.pattern)
  return meaning && `${(err as FastifyError).validationContext ?? ''}${first.instancePath} ${meaning}`
}
