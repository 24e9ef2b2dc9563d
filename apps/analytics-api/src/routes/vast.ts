import { AdParams, ErrorBody } from '@adtrack/contracts'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import { mintImpression, type TrackingKeys } from '@adtrack/service-runtime/impression-token'
import cors from '@fastify/cors'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdStore } from '../ad-store.js'
import { EMPTY_VAST, inlineVast } from '../vast-xml.js'

export interface VastRouteOptions {
  ads: AdStore
  keys: TrackingKeys
  /** PUBLIC_BASE_URL: the base of every URL in a tag. */
  publicBaseUrl: string
  /** TRACKING_CORS_ORIGINS as @fastify/cors's `origin` (trackingCorsOrigin). */
  corsOrigin: true | string[]
  /** Epoch milliseconds; tests pass a fixed clock. */
  now?: () => number
}

/** The tag's path, query aside: what `/ads/:id/vast` matches (an id never holds a slash). */
const TAG_PATH = /^\/ads\/[^/?#]+\/vast(?:[?#]|$)/

const XML = (description: string) => ({
  description,
  content: { 'application/xml': { schema: { type: 'string' } } },
})

/**
 * `GET /ads/:id/vast`: the VAST 4.2 tag players load. Every serve is a new impression, signed into each of
 * the tag's URLs. An ad that cannot be played (unknown, archived, paused, no video) answers the empty
 * VAST, with 200: a player reads that as "no ad" and moves on, where a 404 would be a failed request
 * that some players report as an error and retry.
 */
export const vastRoutes: FastifyPluginAsyncTypebox<VastRouteOptions> = async (app, options) => {
  const { ads, keys, publicBaseUrl, corsOrigin, now = Date.now } = options
  // Credentials are allowed because Google IMA fetches tags withCredentials; no cookie is read or set.
  // Not strict: a plain OPTIONS on the tag is answered like a preflight (204) rather than with a 400.
  const tagCors = { origin: corsOrigin, credentials: true, methods: ['GET', 'HEAD'], strictPreflight: false }
  // TRICKY: registered inside this plugin, so its hook runs on the tag's routes only, but @fastify/cors
  // also adds the catch-all `OPTIONS *` route, whose requests run this hook whatever their path. The
  // delegator keeps CORS off for every path but the tag's, so OPTIONS elsewhere stays a 405 or 404.
  await app.register(cors, {
    delegator: (request, callback) =>
      callback(null, TAG_PATH.test(request.url) ? tagCors : { origin: false }),
  })

  app.get(
    '/ads/:id/vast',
    {
      schema: {
        summary: 'The VAST 4.2 tag of an ad',
        description:
          'An InLine ad with the video, `<Impression>`, `<Error>` (`[ERRORCODE]`), `<Tracking>` for every playback event, `<ClickTracking>` and `<ClickThrough>`, every URL absolute on PUBLIC_BASE_URL and carrying a signed token of a new impression (`<AdServingId>`). An unknown, archived or paused ad, or one without media, answers the empty `<VAST version="4.2"/>` ("no ad"), also 200. Never cached (`Cache-Control: no-store`); readable cross-origin from TRACKING_CORS_ORIGINS.',
        tags: ['vast'],
        params: AdParams,
        response: {
          200: XML('A VAST 4.2 document: one InLine ad, or none.'),
          400: errorReply('The id is not a valid ad id (`VALIDATION_FAILED`).'),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const ad = await ads.get(request.params.id)
      // Each serve is a new impression: a cached tag would replay one impression id for many views.
      reply.header('cache-control', 'no-store').type('application/xml; charset=utf-8')
      if (ad?.status !== 'active' || !ad.media) return EMPTY_VAST
      const { impressionId, token } = mintImpression(keys, ad.id, now())
      return inlineVast(
        { id: ad.id, title: ad.title, media: ad.media },
        { impressionId, token, publicBaseUrl },
      )
    },
  )
}
