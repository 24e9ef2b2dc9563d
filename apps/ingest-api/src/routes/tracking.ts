import {
  AD_EVENTS,
  ClickThroughParams,
  ErrorBody,
  PixelParams,
  TRACKING_QUERY,
  TrackingQuery,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply, RETRY_AFTER_HEADER } from '@adtrack/service-runtime/api-docs'
import cors from '@fastify/cors'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Counter } from 'prom-client'
import { Type } from 'typebox'
import type { AdCatalog } from '../ad-catalog.js'
import { clickReceipt } from '../click-message.js'
import type { ClickProducer } from '../click-producer.js'
import { sendDurably, shedWhenSaturated } from '../load-shedding.js'
import { checkToken, eventMessage, readTrackingQuery, type TokenRules } from '../tracking-message.js'
import { addTrackingEventsRoute } from './tracking-events.js'

export interface TrackingRouteOptions {
  catalog: AdCatalog
  /** The clicks' producer: an event is answered only once Kafka or the spool holds it, as a click is. */
  producer: ClickProducer
  /** The impression tokens' keys and maximum age (TRACKING_TOKEN_KEYS, TRACKING_TOKEN_MAX_AGE). */
  tokens: TokenRules
  /** TRACKING_CORS_ORIGINS as @fastify/cors's `origin` (service-runtime's trackingCorsOrigin). */
  corsOrigins: true | string[]
  /** clicks_refused_total{reason}: events refused 503 count there too. */
  refused?: Counter<'reason'>
  /** tracking_token_refusals_total{reason} */
  tokenRefusals?: Counter<'reason'>
  /** tracking_events_accepted_total{route,event}: one per event acknowledged as durable. */
  acceptedEvents?: Counter<'route' | 'event'>
  /** Most events one POST /track/events may carry (BATCH_MAX_CLICKS). */
  batchMaxEvents?: number
}

/** A 1x1 transparent GIF (GIF89a, one transparent palette entry): 43 bytes. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

const NO_STORE = 'no-store'

/** What every tracking route may answer besides its own replies, for the API description. */
export const TRACKING_ERRORS = {
  503: errorReply(
    'Nothing was promised: neither Kafka nor the local spool took the event in time (`KAFKA_UNAVAILABLE`, `SPOOL_FULL`), or the server is shedding load (`OVERLOADED`). Firing the same URL again counts once.',
    RETRY_AFTER_HEADER,
  ),
  '4xx': ErrorBody,
  '5xx': ErrorBody,
}

const TOKEN_WORDS = `The token (\`${TRACKING_QUERY.token}\`) must be one this ad's tag carried, at most TRACKING_TOKEN_MAX_AGE old.`

/**
 * The tracking routes under /track/ (register with that prefix): the pixel every URL of a VAST tag
 * points at, the click-through, and the SDK route. Browser players reach them cross-origin: CORS from
 * TRACKING_CORS_ORIGINS applies here and nowhere else.
 */
export const trackingRoutes: FastifyPluginAsyncTypebox<TrackingRouteOptions> = async (app, opts) => {
  // NOTE: its OPTIONS route is `*` under this plugin's prefix, so preflights are answered for /track/…
  // only. A disallowed origin still gets the 204, without Access-Control-Allow-Origin: the browser stops there.
  await app.register(cors, {
    origin: opts.corsOrigins,
    // Echoed with credentials, as for the VAST tag: a player may send its cookies along (see tracking-cors).
    credentials: true,
    methods: ['GET', 'HEAD', 'POST'],
    maxAge: 600,
  })
  app.addHook('onRequest', shedWhenSaturated(opts.producer, opts.refused))

  const refuseToken = (reason: string) => opts.tokenRefusals?.inc({ reason })

  app.get(
    '/:ad_id/:event',
    {
      preValidation: firstQueryValues,
      schema: {
        summary: 'Tracking pixel: record one event of an impression',
        description: `Every tracking URL of a VAST tag (impression, the playback events, error, click tracking). Answers a 1x1 transparent GIF once the event is durable (Kafka acknowledged, or fsynced in the local spool), \`Cache-Control: no-store\`. ${TOKEN_WORDS} A missing, bad or expired token is answered with the same GIF and not counted (tracking_token_refusals_total says why). VAST macros the player left literal (\`[ERRORCODE]\`, \`%5BERRORCODE%5D\`) read as absent. Each (impression, event) counts once, however often it is fired.`,
        params: PixelParams,
        querystring: TrackingQuery,
        response: {
          200: {
            description: 'The pixel (recorded, or refused for its token).',
            content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
          },
          400: errorReply(
            `An event not in ${AD_EVENTS.join(', ')}, or an ad id that is not one (\`VALIDATION_FAILED\`).`,
          ),
          ...TRACKING_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { ad_id, event } = request.params
      const query = readTrackingQuery(request.query)
      const check = checkToken(opts.tokens, query.token, { adId: ad_id, now: Date.now() })
      if (!check.ok) {
        refuseToken(check.reason)
        return pixel(reply)
      }
      const message = eventMessage(event, check.impression, clickReceipt(request), query)
      const shed = await sendDurably(opts.producer, message, {
        reply,
        log: request.log,
        refused: opts.refused,
      })
      if (shed) return shed
      opts.acceptedEvents?.inc({ route: request.routeOptions.url, event })
      return pixel(reply)
    },
  )

  app.get(
    '/:ad_id/clickthrough',
    {
      preValidation: firstQueryValues,
      schema: {
        summary: 'Click-through: record the click and send the viewer to the advertiser',
        description: `The tag's <ClickThrough>. Records a click of the impression (durably, as the pixel does), then answers 302 to the target_url stored with the ad; never to anything the query names. ${TOKEN_WORDS} With a missing, bad or expired token the viewer is still sent to the ad's target_url, and nothing is counted. A paused ad still redirects (the worker records its click as inactive_ad).`,
        params: ClickThroughParams,
        querystring: TrackingQuery,
        response: {
          302: Type.Null({
            'x-response-description':
              "To the ad's stored target_url (`Location`), `Cache-Control: no-store`.",
            headers: { location: { type: 'string', description: "The ad's target_url." } },
          }),
          400: errorReply('An ad id that is not one (`VALIDATION_FAILED`).'),
          404: errorReply('No such ad, or it is archived (`AD_NOT_FOUND`).'),
          ...TRACKING_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { ad_id } = request.params
      const target = opts.catalog.targetUrl(ad_id)
      if (target === undefined) {
        throw new HttpError(404, `ad "${ad_id}" does not exist or is archived`, 'AD_NOT_FOUND')
      }
      const query = readTrackingQuery(request.query)
      const check = checkToken(opts.tokens, query.token, { adId: ad_id, now: Date.now() })
      if (check.ok) {
        // TRICKY: the 302 is this route's acknowledgement, so it waits for durability like a pixel and is
        // a 503 when the click cannot be made durable: a redirect would say "counted" for a lost click.
        const message = eventMessage('click', check.impression, clickReceipt(request), query)
        const shed = await sendDurably(opts.producer, message, {
          reply,
          log: request.log,
          refused: opts.refused,
        })
        if (shed) return shed
        opts.acceptedEvents?.inc({ route: request.routeOptions.url, event: 'click' })
      } else {
        refuseToken(check.reason)
      }
      reply.header('cache-control', NO_STORE)
      return reply.redirect(target, 302)
    },
  )

  addTrackingEventsRoute(app, opts)
}

/** The tracking plugin's instance, as its routes are added to it. */
export type TrackingApp = Parameters<FastifyPluginAsyncTypebox<TrackingRouteOptions>>[0]

function pixel(reply: FastifyReply): FastifyReply {
  return reply.code(200).header('cache-control', NO_STORE).type('image/gif').send(PIXEL_GIF)
}

/**
 * A query name given twice (`?t=a&t=b`) arrives as an array; its first value is read, as a player that
 * appended its own copy of a parameter meant nothing by it. Without this the schema would refuse the
 * request as a 400, and a pixel must load whatever its query says.
 */
async function firstQueryValues(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown>
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) query[name] = value[0]
  }
}
