import { randomUUID } from 'node:crypto'
import { Ad, AdCreate, AdParams, AdPatch } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AdAdminStore } from '../ad-admin-store.js'
import { ADMIN_SECURITY_SCHEME, type AdminKeys, requireAdminKey } from '../admin-auth.js'
import { strictValidatorCompiler } from '../strict-validation.js'

export interface AdminAdRouteOptions {
  store: AdAdminStore
  keys: AdminKeys
}

const AUTH_ERRORS = {
  401: errorReply('No admin API key, or an Authorization header that is not `Bearer <key>`.', {
    'www-authenticate': { type: 'string', description: 'The challenge: `Bearer realm="admin"`.' },
  }),
  403: errorReply(
    'The key is not one of ADMIN_API_KEYS (`ADMIN_KEY_INVALID`), or the server has none (`ADMIN_DISABLED`).',
  ),
}
const NOT_FOUND = errorReply('No such ad, or it is archived (`AD_NOT_FOUND`).')
const SCHEMA_BROKEN =
  'The body is not JSON, or breaks the schema (`VALIDATION_FAILED`): a wrong type, an unknown field, a URL that is not http(s), text with control characters or invalid Unicode, a media object without all five fields or with a value out of bounds'
const BAD_BODY = errorReply(`${SCHEMA_BROKEN}.`)
const BAD_NEW_AD = errorReply(
  `${SCHEMA_BROKEN}; or the id names another endpoint (\`AD_ID_RESERVED\`: click, clicks, analytics, top).`,
)
/** What a route that reads a JSON body may also answer. */
const BODY_ERRORS = {
  413: errorReply('The body is larger than 16 KiB.'),
  415: errorReply('The body is not sent as `application/json`.'),
}

/**
 * Ids that name other endpoints under /ads/ (the Ingress sends /ads/click and, later, /ads/clicks to
 * ingest-api; /ads/analytics and /ads/top are analytics routes): an ad with one could never be read.
 */
const RESERVED_AD_IDS = new Set(['click', 'clicks', 'analytics', 'top'])

const ADMIN = {
  security: [{ [ADMIN_SECURITY_SCHEME]: [] }],
  tags: ['admin'],
}

/**
 * The ads management endpoints: create, change and archive ads. Every one needs an admin API key (see
 * admin-auth.ts), checked before the body is read. Bodies are validated strictly (no coercion, unknown
 * fields refused); the public reads in ads.ts keep Fastify's coercing validation for their query strings.
 */
export const adminAdRoutes: FastifyPluginAsyncTypebox<AdminAdRouteOptions> = async (app, { store, keys }) => {
  // Encapsulated: this hook and this compiler apply to the routes below only.
  app.addHook('onRequest', requireAdminKey(keys))
  app.setValidatorCompiler(strictValidatorCompiler)

  app.post(
    '/ads',
    {
      bodyLimit: 16 * 1024,
      schema: {
        ...ADMIN,
        summary: 'Create an ad',
        description:
          'Creates an active (or paused) ad. Without `id` the server assigns a UUID. Ingest-api accepts clicks for it within AD_CATALOG_REFRESH (2 s by default).',
        body: AdCreate,
        response: {
          201: Type.Object(Ad.properties, {
            additionalProperties: false,
            'x-response-description': 'The ad as stored.',
            headers: { location: { type: 'string', description: 'Its URL: `/ads/<id>`.' } },
          }),
          400: BAD_NEW_AD,
          ...AUTH_ERRORS,
          ...BODY_ERRORS,
          409: errorReply(
            'The id is taken, by an ad or an archived ad (`AD_ID_TAKEN`); ids are never reused.',
          ),
        },
      },
    },
    async (request, reply) => {
      const {
        id = randomUUID(),
        title,
        image_url,
        target_url,
        status = 'active',
        media = null,
      } = request.body
      if (RESERVED_AD_IDS.has(id)) {
        throw new HttpError(
          400,
          `"${id}" cannot be an ad id: /ads/${id} is another endpoint`,
          'AD_ID_RESERVED',
        )
      }
      const result = await store.create({ id, title, image_url, target_url, status, media })
      if ('taken' in result) {
        throw new HttpError(
          409,
          result.taken === 'archived'
            ? `ad "${id}" was archived; the id of an archived ad is not reused`
            : `ad "${id}" already exists`,
          'AD_ID_TAKEN',
        )
      }
      request.log.info({ ad_id: id }, 'ad created')
      reply.code(201).header('location', `/ads/${encodeURIComponent(id)}`)
      return result.ad
    },
  )

  app.patch(
    '/ads/:id',
    {
      bodyLimit: 16 * 1024,
      schema: {
        ...ADMIN,
        summary: 'Change an ad',
        description:
          'Changes the fields given and keeps the others. Pausing or resuming reaches ingest-api within AD_CATALOG_REFRESH (2 s by default).',
        params: AdParams,
        body: AdPatch,
        response: {
          200: Type.Object(Ad.properties, {
            additionalProperties: false,
            'x-response-description': 'The ad as changed.',
          }),
          400: BAD_BODY,
          ...AUTH_ERRORS,
          ...BODY_ERRORS,
          404: NOT_FOUND,
        },
      },
    },
    async (request) => {
      const ad = await store.update(request.params.id, request.body)
      if (!ad) throw notFound(request.params.id)
      request.log.info({ ad_id: ad.id, fields: Object.keys(request.body) }, 'ad changed')
      return ad
    },
  )

  app.delete(
    '/ads/:id',
    {
      schema: {
        ...ADMIN,
        summary: 'Archive an ad',
        description:
          'Archives the ad: it leaves GET /ads and GET /ads/{id} (404), ingest-api refuses its clicks within AD_CATALOG_REFRESH, and its recorded clicks and analytics stay. It cannot be undone through the API, and its id is not reused.',
        params: AdParams,
        response: {
          204: Type.Null({ 'x-response-description': 'Archived.' }),
          400: errorReply('The id is not a valid ad id (`VALIDATION_FAILED`).'),
          ...AUTH_ERRORS,
          404: NOT_FOUND,
        },
      },
    },
    async (request, reply) => {
      if (!(await store.archive(request.params.id))) throw notFound(request.params.id)
      request.log.info({ ad_id: request.params.id }, 'ad archived')
      reply.code(204)
      return null
    },
  )
}

const notFound = (id: string) =>
  new HttpError(404, `ad "${id}" does not exist or is archived`, 'AD_NOT_FOUND')
