import {
  CLICK_MESSAGE_VERSION,
  ClickAccepted,
  type ClickBatchItemResult,
  ClickBatchReply,
  ClickBatchRequest,
  ClickId,
  type ClickMessage,
  ClickRequest,
  ErrorBody,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import type { Counter } from 'prom-client'
import { Type } from 'typebox'
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
  /** Most clicks one POST /ads/clicks may carry (BATCH_MAX_CLICKS); more is 413. */
  batchMaxClicks?: number
}

/** Body limit of POST /ads/clicks per click it may carry: a click at its largest is under 400 bytes. */
export const BATCH_BYTES_PER_CLICK = 1024

/** Seconds a client is asked to wait before retrying, by why it was refused. */
export const RETRY_AFTER_SECONDS = { overloaded: 1, not_durable: 1, spool_full: 5 } as const

const clickIdHeader = Compile(ClickId)
// NOTE: POST /ads/click validates with Fastify's Ajv, which drops unknown fields (removeAdditional) rather
// than refusing them; a batch item is judged the same way, so the item schema here allows them (and the
// Kafka message is built from the known fields only).
const clickRequest = Compile(Type.Object(ClickRequest.properties))

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

  await app.register(async (batch) => {
    const maxClicks = opts.batchMaxClicks ?? 500
    // NDJSON: one click per line. A line that is not JSON fails on its own, like any other bad item.
    batch.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
      const items: unknown[] = []
      for (const line of String(body).split('\n')) {
        if (line.trim() === '') continue
        try {
          items.push(JSON.parse(line))
        } catch (err) {
          items.push(new MalformedLine((err as Error).message))
        }
      }
      done(null, items)
    })
    batch.post(
      '/ads/clicks',
      {
        bodyLimit: maxClicks * BATCH_BYTES_PER_CLICK,
        // Items are validated one by one in the handler (a bad item must not spoil the others); the
        // schema is here for the API description.
        validatorCompiler: () => (value: unknown) => ({ value }),
        schema: {
          summary: 'Record many clicks in one request',
          description: `A JSON array (or NDJSON with Content-Type application/x-ndjson) of up to BATCH_MAX_CLICKS (${maxClicks} by default) clicks, each validated on its own. Answers 200 once every accepted item is durable, with one result per item in order: accepted with its click_id, or that item's error. Give each item its own click_id for idempotent retries.`,
          body: ClickBatchRequest,
          response: { 200: ClickBatchReply, '4xx': ErrorBody, '5xx': ErrorBody },
        },
      },
      async (request, reply) => {
        const items: unknown = request.body
        if (!Array.isArray(items) || items.length === 0) {
          throw new HttpError(
            400,
            'body must be a non-empty JSON array of clicks (or NDJSON, one click per line)',
            'VALIDATION_FAILED',
          )
        }
        if (items.length > maxClicks) {
          throw new HttpError(
            413,
            `a batch may carry at most ${maxClicks} clicks, got ${items.length}`,
            'BATCH_TOO_LARGE',
          )
        }
        const results: ClickBatchItemResult[] = new Array(items.length)
        const messages: ClickMessage[] = []
        const indexes: number[] = []
        const received_at = new Date().toISOString()
        const user_agent = (request.headers['user-agent'] ?? '').slice(0, 512)
        for (let i = 0; i < items.length; i++) {
          const item: unknown = items[i]
          if (item instanceof MalformedLine) {
            results[i] = rejected(400, 'MALFORMED_JSON', `line ${i + 1} is not JSON: ${item.message}`)
          } else if (!clickRequest.Check(item)) {
            results[i] = rejected(400, 'VALIDATION_FAILED', itemValidationMessage(i, item))
          } else if (!opts.catalog.accepts(item.ad_id)) {
            results[i] = rejected(404, 'AD_NOT_FOUND', `ad "${item.ad_id}" does not exist or is not active`)
          } else {
            const click_id = item.click_id ?? crypto.randomUUID()
            messages.push({
              v: CLICK_MESSAGE_VERSION,
              click_id,
              ad_id: item.ad_id,
              playback_time: item.playback_time,
              received_at,
              ip: request.ip,
              user_agent,
              ...(item.viewer_id === undefined ? {} : { viewer_id: item.viewer_id }),
            })
            indexes.push(i)
          }
        }
        if (messages.length > 0) {
          let pending: Promise<void>[]
          try {
            pending = opts.producer.sendMany(messages, performance.now() + opts.deadlineMs)
          } catch (err) {
            if (!(err instanceof QueueFullError)) throw err
            opts.refused?.inc({ reason: 'queue_full' }, messages.length)
            return overloaded(reply)
          }
          const outcomes = await settleWithin(pending, opts.deadlineMs)
          let notDurable: unknown
          for (let k = 0; k < outcomes.length; k++) {
            const outcome = outcomes[k]
            const message = messages[k] as ClickMessage
            const index = indexes[k] as number
            if (outcome === true) {
              results[index] = { status: 'accepted', click_id: message.click_id }
            } else if (outcome instanceof SpoolFullError) {
              opts.refused?.inc({ reason: 'spool_full' })
              notDurable ??= outcome
              results[index] = rejected(
                503,
                'SPOOL_FULL',
                'the click could not be recorded right now; retry later',
              )
            } else {
              opts.refused?.inc({ reason: 'not_durable' })
              notDurable ??= outcome ?? new Error(`click not durable within ${opts.deadlineMs} ms`)
              results[index] = rejected(
                503,
                'KAFKA_UNAVAILABLE',
                'the click could not be recorded right now; retry shortly',
              )
            }
          }
          if (notDurable) request.log.warn({ err: notDurable }, 'clicks of a batch not durable in time')
        }
        let accepted = 0
        for (const r of results) if (r.status === 'accepted') accepted++
        return { accepted, rejected: results.length - accepted, results }
      },
    )
  })
}

/** An NDJSON line that did not parse, kept in its place so that the item gets its own error. */
class MalformedLine {
  constructor(readonly message: string) {}
}

function rejected(statusCode: number, code: string, message: string): ClickBatchItemResult {
  return { status: 'rejected', statusCode, code, message }
}

/** The first validation error of item `index`, worded as the single route words it ("body/0/ad_id …"). */
function itemValidationMessage(index: number, item: unknown): string {
  const error = clickRequest.Errors(item)[0]
  if (!error) return `body/${index} is not a valid click`
  return `body/${index}${error.instancePath} ${error.message}`
}

/**
 * Waits until every promise has settled or `ms` have passed, whichever is first: true for a resolved
 * one, its error for a rejected one, undefined for one still pending at the deadline.
 */
async function settleWithin(promises: Promise<void>[], ms: number): Promise<(true | Error | undefined)[]> {
  const outcomes: (true | Error | undefined)[] = new Array(promises.length).fill(undefined)
  const all = Promise.all(
    promises.map((p, i) =>
      p.then(
        () => {
          outcomes[i] = true
        },
        (err: unknown) => {
          outcomes[i] = err instanceof Error ? err : new Error(String(err))
        },
      ),
    ),
  )
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
  } finally {
    clearTimeout(timer)
  }
  return outcomes.slice()
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
