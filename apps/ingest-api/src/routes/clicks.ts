import { ClickAccepted, ClickId, ClickRequest, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply, RETRY_AFTER_HEADER } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Counter } from 'prom-client'
import { Compile } from 'typebox/compile'
import type { AdCatalog } from '../ad-catalog.js'
import { clickMessage, clickReceipt } from '../click-message.js'
import type { ClickProducer } from '../click-producer.js'
import { sendDurably, shedWhenSaturated } from '../load-shedding.js'
import { clickBatchRoute } from './click-batch.js'

export interface ClickRouteOptions {
  catalog: AdCatalog
  /** Settles each click once durable, or refuses it by its deadline (WRITE_TIMEOUT). */
  producer: ClickProducer
  /** clicks_refused_total{reason} */
  refused?: Counter<'reason'>
  /** clicks_accepted_total{route}: one per click acknowledged as durable. */
  accepted?: Counter<'route'>
  /** Most clicks one POST /ads/clicks may carry (BATCH_MAX_CLICKS); more is 413. */
  batchMaxClicks?: number
}

const clickIdHeader = Compile(ClickId)

/** What both click routes may answer besides their own replies, for the API description. */
export const CLICK_ERRORS = {
  429: errorReply(
    'This client address made more than RATE_LIMIT_MAX requests in RATE_LIMIT_WINDOW (`RATE_LIMITED`).',
    RETRY_AFTER_HEADER,
  ),
  503: errorReply(
    'Nothing was promised: neither Kafka nor the local spool took the click in time (`KAFKA_UNAVAILABLE`, `SPOOL_FULL`), or the server is shedding load (`OVERLOADED`). Retry with the same click_id.',
    RETRY_AFTER_HEADER,
  ),
  '4xx': ErrorBody,
  '5xx': ErrorBody,
}

export const clickRoutes: FastifyPluginAsyncTypebox<ClickRouteOptions> = async (app, opts) => {
  // The producer's queue is full: refuse before even reading the body.
  app.addHook('onRequest', shedWhenSaturated(opts.producer, opts.refused))

  app.post(
    '/ads/click',
    {
      schema: {
        summary: 'Record a click on an ad',
        description:
          'Answers 202 once the click is durable: acknowledged by Kafka or, while Kafka cannot take it, fsynced in the local spool. Retrying with the same click_id (or Idempotency-Key header) counts once.',
        body: ClickRequest,
        response: {
          202: ClickAccepted,
          400: errorReply(
            'Malformed JSON, an empty body, a missing, wrong-typed or out-of-range field, text with control characters or invalid Unicode (`VALIDATION_FAILED`), or a bad Idempotency-Key (`BAD_IDEMPOTENCY_KEY`).',
          ),
          404: errorReply('The ad does not exist or is not active (`AD_NOT_FOUND`).'),
          413: errorReply('The body is larger than BODY_LIMIT.'),
          ...CLICK_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { ad_id } = request.body
      if (!opts.catalog.accepts(ad_id)) {
        throw new HttpError(404, `ad "${ad_id}" does not exist or is not active`, 'AD_NOT_FOUND')
      }
      const click_id = request.body.click_id ?? idempotencyKey(request.headers['idempotency-key'])
      const shed = await sendDurably(
        opts.producer,
        clickMessage(request.body, click_id, clickReceipt(request)),
        { reply, log: request.log, refused: opts.refused },
      )
      if (shed) return shed
      opts.accepted?.inc({ route: request.routeOptions.url })
      reply.code(202)
      return { status: 'Click recorded' as const, click_id }
    },
  )

  await app.register(clickBatchRoute, opts)
}

function idempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined) return crypto.randomUUID()
  if (typeof header === 'string' && clickIdHeader.Check(header)) return header
  throw new HttpError(
    400,
    'Idempotency-Key must be 8-64 characters of letters, digits, _ or -',
    'BAD_IDEMPOTENCY_KEY',
  )
}
