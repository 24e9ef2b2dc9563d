import { CLICK_MESSAGE_VERSION, ClickAccepted, ClickId, ClickRequest, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Compile } from 'typebox/compile'
import type { AdCatalog } from '../ad-catalog.js'
import type { ClickProducer } from '../click-producer.js'

export interface ClickRouteOptions {
  catalog: AdCatalog
  producer: ClickProducer
  /** Longest a request waits for Kafka's acknowledgement before answering 503. */
  deadlineMs: number
}

const clickIdHeader = Compile(ClickId)

export const clickRoutes: FastifyPluginAsyncTypebox<ClickRouteOptions> = async (app, opts) => {
  app.post(
    '/ads/click',
    {
      schema: {
        summary: 'Record a click on an ad',
        description:
          'Answers 202 once the click is durable in Kafka. Retrying with the same click_id (or Idempotency-Key header) counts once.',
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
      await withDeadline(
        opts.producer.send({
          v: CLICK_MESSAGE_VERSION,
          click_id,
          ad_id,
          playback_time,
          received_at: new Date().toISOString(),
          ip: request.ip,
          user_agent: (request.headers['user-agent'] ?? '').slice(0, 512),
        }),
        opts.deadlineMs,
        request.log,
      )
      reply.code(202)
      return { status: 'Click recorded' as const, click_id }
    },
  )
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

async function withDeadline(
  send: Promise<void>,
  ms: number,
  log: { warn: (obj: object, msg: string) => void },
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no acknowledgement from Kafka within ${ms} ms`)), ms)
  })
  try {
    await Promise.race([send, deadline])
  } catch (err) {
    // NOTE: the click may still reach Kafka after this; the client's retry with the same click_id is
    // then counted once. What must never happen is a 2xx for a click Kafka does not hold.
    log.warn({ err }, 'click not acknowledged by Kafka')
    throw new HttpError(
      503,
      'the click could not be recorded right now; retry shortly',
      'KAFKA_UNAVAILABLE',
      {
        'retry-after': '1',
      },
    )
  } finally {
    clearTimeout(timer)
  }
}
