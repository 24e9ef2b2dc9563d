import { CLICK_MESSAGE_VERSION, ClickAccepted, ClickId, ClickRequest, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply, RETRY_AFTER_HEADER } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Counter } from 'prom-client'
import { Compile } from 'typebox/compile'
import type { AdCatalog } from '../ad-catalog.js'
import { clickOrigin } from '../click-origin.js'
import { type ClickProducer, QueueFullError } from '../click-producer.js'
import { SpoolFullError } from '../spool.js'
import { clickBatchRoute } from './click-batch.js'
import { overloaded, RETRY_AFTER_SECONDS } from './shedding.js'

export interface ClickRouteOptions {
  catalog: AdCatalog
  producer: ClickProducer
  /** Longest a request waits for its click to be durable (in Kafka or the spool) before answering 503. */
  deadlineMs: number
  /** clicks_refused_total{reason} */
  refused?: Counter<'reason'>
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
  app.addHook('onRequest', async (_request, reply) => {
    if (!opts.producer.saturated) return
    opts.refused?.inc({ reason: 'queue_full' })
    return reply.send(overloaded(reply))
  })

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
      const { ad_id, playback_time } = request.body
      if (!opts.catalog.accepts(ad_id)) {
        throw new HttpError(404, `ad "${ad_id}" does not exist or is not active`, 'AD_NOT_FOUND')
      }
      const click_id = request.body.click_id ?? idempotencyKey(request.headers['idempotency-key'])
      try {
        await withDeadline(
          (deadline) =>
            opts.producer.send(
              {
                v: CLICK_MESSAGE_VERSION,
                click_id,
                ad_id,
                playback_time,
                received_at: new Date().toISOString(),
                ...clickOrigin(request),
                ...(request.body.viewer_id === undefined ? {} : { viewer_id: request.body.viewer_id }),
              },
              deadline,
            ),
          opts.deadlineMs,
        )
      } catch (err) {
        if (err instanceof QueueFullError) {
          opts.refused?.inc({ reason: 'queue_full' })
          return overloaded(reply)
        }
        // NOTE: a click refused here may still reach Kafka (a late acknowledgement, a spool write that
        // finished after the deadline); the client's retry with the same click_id is then counted once.
        // What must never happen is a 2xx for a click that is not durable.
        if (err instanceof SpoolFullError) {
          opts.refused?.inc({ reason: 'spool_full' })
          request.log.warn({ err }, 'click refused: Kafka unavailable and the spool is full')
          throw new HttpError(503, 'the click could not be recorded right now; retry later', 'SPOOL_FULL', {
            'retry-after': String(RETRY_AFTER_SECONDS.spool_full),
          })
        }
        opts.refused?.inc({ reason: 'not_durable' })
        request.log.warn({ err }, 'click not durable in time')
        throw new HttpError(
          503,
          'the click could not be recorded right now; retry shortly',
          'KAFKA_UNAVAILABLE',
          { 'retry-after': String(RETRY_AFTER_SECONDS.not_durable) },
        )
      }
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

/** Runs `send` with a deadline (a performance.now() instant) and rejects if it has not settled by then. */
async function withDeadline(send: (deadline: number) => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`click not durable within ${ms} ms`)), ms)
  })
  try {
    await Promise.race([send(performance.now() + ms), deadline])
  } finally {
    clearTimeout(timer)
  }
}
