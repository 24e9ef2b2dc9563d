import { STATUS_CODES } from 'node:http'
import { convertV2 } from 'openapi-to-postmanv2'

type Json = Record<string, unknown>
type Schema = {
  type?: string | string[]
  format?: string
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  example?: unknown
  examples?: unknown[]
  minimum?: number
  $ref?: string
}

type Parameter = { schema?: Schema; example?: unknown; examples?: unknown }
type Body = { content?: Record<string, { schema?: Schema; example?: unknown; examples?: unknown }> }

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/**
 * One Postman collection (v2.1) for both APIs, a folder each, from their OpenAPI descriptions, with
 * `{{baseUrl}}` (the local stack's gateway by default) and `{{bearerToken}}` (an admin API key).
 *
 * TRICKY: the converter invents random values (json-schema-faker) for any parameter or body without an
 * example, and random ids, so its output would differ on every run and could not be committed and
 * compared. Every parameter and every request and response body is therefore given an example first,
 * built deterministically from its schema (its examples, defaults and types), and the ids are dropped
 * (Postman assigns them on import).
 */
export async function toPostmanCollection(specs: Record<string, Json>): Promise<Json> {
  const folders: Json[] = []
  for (const [name, spec] of Object.entries(specs)) {
    const collection = await convert(withBodyExamples(spec))
    const info = spec.info as { description?: string }
    folders.push({ name, description: info.description ?? '', item: collection.item })
  }
  return withoutIds({
    info: {
      name: 'Ad Tracking',
      description:
        'The ingest and analytics APIs, generated from their OpenAPI descriptions (openapi/*.json). Set baseUrl to the gateway (or a service), and bearerToken to an admin API key for the admin requests.',
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    item: folders,
    variable: [
      { key: 'baseUrl', value: 'http://localhost:8080', type: 'string' },
      {
        key: 'bearerToken',
        value: '',
        type: 'string',
        description: 'One of the admin API keys (ADMIN_API_KEYS) of analytics-api.',
      },
    ],
  })
}

function convert(spec: Json): Promise<{ item: unknown[] }> {
  return new Promise((resolve, reject) => {
    convertV2(
      { type: 'json', data: spec },
      { parametersResolution: 'Example', folderStrategy: 'Paths', enableOptionalParameters: true },
      (err, result) => {
        if (err) return reject(err)
        const output = (result as { result: boolean; reason?: string; output?: { data: unknown }[] }) ?? {}
        const data = output.output?.[0]?.data as { item: unknown[] } | undefined
        if (!output.result || !data) return reject(new Error(`conversion failed: ${output.reason}`))
        resolve(data)
      },
    )
  })
}

/** A copy of the spec where every parameter and JSON body without an example has one, from its schema. */
function withBodyExamples(spec: Json): Json {
  const copy = structuredClone(spec)
  const components = (copy.components as { schemas?: Record<string, Schema> } | undefined)?.schemas ?? {}
  const paths = (copy.paths ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!HTTP_METHODS.includes(method)) continue
      for (const parameter of (operation.parameters ?? []) as Parameter[]) {
        if (parameter.schema) parameter.schema = asOneEnum(parameter.schema)
        if (parameter.schema && parameter.example === undefined && parameter.examples === undefined) {
          parameter.example = exampleOf(parameter.schema, components)
        }
      }
      const bodies = [
        [undefined, operation.requestBody],
        ...Object.entries((operation.responses ?? {}) as Record<string, unknown>),
      ] as [string | undefined, Body | undefined][]
      for (const [status, body] of bodies) {
        for (const media of Object.values(body?.content ?? {})) {
          if (media.schema && media.example === undefined && media.examples === undefined) {
            media.example = errorFields(exampleOf(media.schema, components), status)
          }
        }
      }
    }
  }
  return copy
}

/**
 * A choice of string literals (TypeBox's Union of Literals: `anyOf` of one-value enums) as one enum.
 * TRICKY: the converter describes only the first branch of an `anyOf`, so a query parameter such as
 * `metric` or `granularity` would read "This can only be one of clicks".
 */
function asOneEnum(schema: Schema): Schema {
  const branches = schema.anyOf
  const values = branches?.map((b) => (b.type === 'string' && b.enum?.length === 1 ? b.enum[0] : b.const))
  if (!branches || !values?.every((v) => typeof v === 'string')) return schema
  const { anyOf: _, ...rest } = schema
  return { ...rest, type: 'string', enum: values }
}

/** An error body's example names its own status (the `4XX` ones as 400, as Postman shows them). */
function errorFields(example: unknown, status: string | undefined): unknown {
  if (status === undefined || typeof example !== 'object' || example === null || !('statusCode' in example)) {
    return example
  }
  const code = Number(status.replace(/XX$/i, '00'))
  return { ...example, statusCode: code, error: STATUS_CODES[code] ?? 'Error' }
}

function exampleOf(schema: Schema, components: Record<string, Schema>, depth = 0): unknown {
  if (depth > 10) return null
  if (schema.$ref) {
    const target = components[schema.$ref.replace('#/components/schemas/', '')]
    return target ? exampleOf(target, components, depth + 1) : null
  }
  if (schema.examples?.length) return schema.examples[0]
  if (schema.example !== undefined) return schema.example
  if (schema.default !== undefined) return schema.default
  if (schema.const !== undefined) return schema.const
  if (schema.enum?.length) return schema.enum[0]
  const branch = schema.anyOf?.[0] ?? schema.oneOf?.[0] ?? schema.allOf?.[0]
  if (branch) return exampleOf(branch, components, depth + 1)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      // The required properties only: an optional one (click_id, id) is better left out than invented.
      const properties = Object.entries(schema.properties ?? {})
      const required = schema.required ?? properties.map(([key]) => key)
      return Object.fromEntries(
        properties
          .filter(([key]) => required.includes(key))
          .map(([key, value]) => [key, exampleOf(value, components, depth + 1)]),
      )
    }
    case 'array':
      return schema.items ? [exampleOf(schema.items, components, depth + 1)] : []
    case 'integer':
    case 'number':
      return schema.minimum ?? 0
    case 'boolean':
      return true
    case 'null':
      return null
    case 'string':
      if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z'
      if (schema.format === 'uri') return 'https://example.com/'
      return 'string'
    default:
      return null
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The collection without the random ids (UUIDs) the converter gives every item and response. */
function withoutIds<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (key, v) =>
      (key === 'id' || key === '_postman_id') && typeof v === 'string' && UUID.test(v) ? undefined : v,
    ),
  )
}
