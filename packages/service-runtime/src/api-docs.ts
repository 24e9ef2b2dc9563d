import { STATUS_CODES } from 'node:http'
import { ErrorBody, publishedPattern } from '@adtrack/contracts'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { Type } from 'typebox'

/** Where each service serves Swagger UI (and, under it, `/docs/json` and `/docs/yaml`). */
export const DOCS_PREFIX = '/docs'

/** Routes that are operations plumbing, not API: left out of the description. */
const PROBE_PATHS = new Set(['/livez', '/readyz'])

/**
 * ErrorBody, described for one status of one route in the API description: a client (and schemathesis)
 * reads there which statuses to expect and why.
 */
export const errorReply = (
  description: string,
  headers?: Record<string, { type: 'string'; description: string }>,
) => Type.Object(ErrorBody.properties, { 'x-response-description': description, ...(headers && { headers }) })

/** Retry-After, as a described response header. */
export const RETRY_AFTER_HEADER = {
  'retry-after': { type: 'string' as const, description: 'Seconds to wait before retrying.' },
}

export interface ApiDocsOptions {
  title: string
  description: string
  version: string
  /** Named HTTP authentication schemes that routes can require with `schema.security`. */
  securitySchemes?: Record<string, { type: 'http'; scheme: string; description?: string }>
}

/**
 * An OpenAPI 3.1 description built from the routes' own TypeBox schemas (@fastify/swagger), and Swagger
 * UI at /docs. Register it before the routes: it collects them as they are added. Nothing in it depends
 * on the configuration, so the committed copies (openapi/*.json) can be compared with the code.
 */
export async function registerApiDocs(app: FastifyInstance, opts: ApiDocsOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: opts.title, description: opts.description, version: opts.version },
      servers: [{ url: 'http://localhost:8080', description: 'The local stack (`npm start`).' }],
      components: opts.securitySchemes ? { securitySchemes: opts.securitySchemes } : {},
    },
    // Shared schemas are named by their $id (Ad, ErrorBody, ...) in components.schemas.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url }) => ({
      schema: PROBE_PATHS.has(url) ? { ...schema, hide: true } : describeForClients(schema),
      url,
    }),
    transformObject: (document) =>
      withPublishedPatterns(
        'openapiObject' in document ? document.openapiObject : document.swaggerObject,
      ) as object,
  })
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX })
}

/**
 * What the validation schemas say, as a client needs it: a query parameter with a default is optional
 * (the server fills it in), and every response has a description. Never mutates the route's schema.
 */
function describeForClients(schema: FastifySchema): FastifySchema {
  // Routes without a schema (the probes) come with none, whatever the type says.
  if (!schema) return schema
  const out: FastifySchema & Record<string, unknown> = { ...schema }
  const query = schema.querystring as { required?: string[]; properties?: Record<string, object> } | undefined
  if (query?.required && query.properties) {
    const properties = query.properties
    out.querystring = {
      ...query,
      required: query.required.filter((name) => !('default' in (properties[name] ?? {}))),
    }
  }
  const response = schema.response as Record<string, Record<string, unknown>> | undefined
  if (response) {
    out.response = Object.fromEntries(
      Object.entries(response).map(([status, reply]) => [
        status,
        reply.description || reply['x-response-description']
          ? reply
          : { ...reply, 'x-response-description': defaultDescription(status) },
      ]),
    )
  }
  return out
}

/** A copy of the description with every `pattern` as contracts publishes it (see publishedPattern). */
function withPublishedPatterns(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withPublishedPatterns)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === 'pattern' && typeof inner === 'string' ? publishedPattern(inner) : withPublishedPatterns(inner),
    ]),
  )
}

function defaultDescription(status: string): string {
  if (/^[45]xx$/i.test(status)) return status[0] === '4' ? 'Client error.' : 'Server error.'
  return `${STATUS_CODES[Number(status)] ?? status}.`
}
