import { CLICK_MESSAGE_VERSION, ClickAccepted, ClickId, ClickRequest, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import type { Counter } from 'prom-client'
import { Compile } from 'typebox/compile'
import type { AdCatalog } from '../ad-catalog.js'
import { type ClickProducer, QueueFullError } from '../click-producer.js'
import { SpoolFullError } from '../spool.js'

export interface ClickRouteOptions {
  catalog: AdCatalog
  producer: ClickProducer
  /** Longest a request waits for its click to be durable (in Kafka or the spool) before answering 503. */
  deadlineMs: number
  /** clicks_refused_total{reason} */
  refused?: Counter<'reason'>
}

/** Seconds a client is asked to wait before retrying, by why it was refused. */
export const RETRY_AFTER_SECONDS = { overloaded: 1, not_durable: 1, spool_full: 5 } as const

const clickIdHeader = Compile(ClickId)

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
        response: { 202: ClickAccepted, '4xx': ErrorBody, '5xx': ErrorBody },
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
                ip: request.ip,
                user_agent: (request.headers['user-agent'] ?? '').slice(0, 512),
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
}

function overloaded(reply: FastifyReply): ErrorBody {
  return shed(reply, 'OVERLOADED', 'the server is overloaded; retry shortly', RETRY_AFTER_SECONDS.overloaded)
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
