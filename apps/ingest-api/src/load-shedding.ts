import { getHeapStatistics } from 'node:v8'
import type { ErrorBody, TrackingMessage } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyUnderPressureOptions } from '@fastify/under-pressure'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Counter } from 'prom-client'
import { type ClickProducer, QueueFullError } from './click-producer.js'
import { SpoolFullError } from './spool.js'

/** Seconds a client is asked to wait before retrying, by why it was refused. */
export const RETRY_AFTER_SECONDS = { overloaded: 1, not_durable: 1, spool_full: 5 } as const

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

export function overloaded(reply: FastifyReply): ErrorBody {
  const { code, message, retryAfterSeconds } = REFUSALS.queue_full
  return shed(reply, code, message, retryAfterSeconds)
}

/** The 503 of each reason the producer refuses a click or event for (clicks_refused_total's reason label). */
const REFUSALS = {
  queue_full: {
    code: 'OVERLOADED',
    message: 'the server is overloaded; retry shortly',
    retryAfterSeconds: RETRY_AFTER_SECONDS.overloaded,
  },
  spool_full: {
    code: 'SPOOL_FULL',
    message: 'the click could not be recorded right now; retry later',
    retryAfterSeconds: RETRY_AFTER_SECONDS.spool_full,
  },
  not_durable: {
    code: 'KAFKA_UNAVAILABLE',
    message: 'the click could not be recorded right now; retry shortly',
    retryAfterSeconds: RETRY_AFTER_SECONDS.not_durable,
  },
} as const

export type Refusal = { reason: keyof typeof REFUSALS } & (typeof REFUSALS)[keyof typeof REFUSALS]

/**
 * The 503 for an error of ClickProducer.send or sendMany: a full queue is load shed, a full spool asks
 * for a longer wait, and anything else (the deadline passed, Kafka failed without a spool) is not durable.
 */
export function refusal(err: unknown): Refusal {
  const reason =
    err instanceof QueueFullError
      ? 'queue_full'
      : err instanceof SpoolFullError
        ? 'spool_full'
        : 'not_durable'
  return { reason, ...REFUSALS[reason] }
}

/** under-pressure's settings: a 503 OVERLOADED, before the route runs, when the process is saturated. */
export function pressureShedding(opts: {
  maxEventLoopDelay: number
  /** 0: 90 % of the heap limit. */
  maxHeapUsedBytes: number
  sampleInterval?: number
  refusedClicks?: Counter<'reason'>
}): FastifyUnderPressureOptions {
  return {
    maxEventLoopDelay: opts.maxEventLoopDelay,
    maxHeapUsedBytes: opts.maxHeapUsedBytes || Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    sampleInterval: opts.sampleInterval,
    pressureHandler: (_request, reply) => {
      opts.refusedClicks?.inc({ reason: 'overloaded' })
      // Sending here ends the request (under-pressure's documented way); the route does not run.
      reply.send(overloaded(reply))
    },
  }
}

/** An onRequest hook: while the producer's queue is full, refuse before even reading the body. */
export function shedWhenSaturated(producer: ClickProducer, refused?: Counter<'reason'>) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!producer.saturated) return
    refused?.inc({ reason: 'queue_full' })
    return reply.send(overloaded(reply))
  }
}

/**
 * Sends one message (a click or an event) and resolves once it is durable. A refusal is counted and
 * answered as every route answers it: a full queue is load shed (the 503 body returned, to be sent),
 * anything else throws a 503 HttpError with Retry-After.
 * NOTE: a message refused here may still reach Kafka (a late acknowledgement, a spool write that finished
 * after the deadline); the client's retry is then counted once (same click_id, same impression and event).
 */
export async function sendDurably(
  producer: ClickProducer,
  message: TrackingMessage,
  { reply, log, refused }: { reply: FastifyReply; log: FastifyBaseLogger; refused?: Counter<'reason'> },
): Promise<ErrorBody | undefined> {
  try {
    await producer.send(message)
    return undefined
  } catch (err) {
    const refusedNow = refusal(err)
    refused?.inc({ reason: refusedNow.reason })
    if (refusedNow.reason === 'queue_full') return overloaded(reply)
    log.warn(
      { err },
      refusedNow.reason === 'spool_full'
        ? `${message.v === 1 ? 'click' : 'event'} refused: Kafka unavailable and the spool is full`
        : `${message.v === 1 ? 'click' : 'event'} not durable in time`,
    )
    throw new HttpError(503, refusedNow.message, refusedNow.code, {
      'retry-after': String(refusedNow.retryAfterSeconds),
    })
  }
}

/** How each message of a batch fared: durable (undefined) or its refusal; or the batch shed whole. */
export type BatchDurability = { shed: true } | { shed: false; refusals: (Refusal | undefined)[] }

/**
 * Sends a request's messages together (they share Kafka batches and a spool append) and waits for each
 * to be durable or refused. A full queue takes none of them (shed: the caller answers 503 OVERLOADED);
 * otherwise each message that was not durable in time is counted and given its refusal.
 */
export async function sendEachDurably(
  producer: ClickProducer,
  messages: TrackingMessage[],
  { log, refused }: { log: FastifyBaseLogger; refused?: Counter<'reason'> },
): Promise<BatchDurability> {
  if (messages.length === 0) return { shed: false, refusals: [] }
  let pending: Promise<void>[]
  try {
    pending = producer.sendMany(messages)
  } catch (err) {
    if (!(err instanceof QueueFullError)) throw err
    refused?.inc({ reason: 'queue_full' }, messages.length)
    return { shed: true }
  }
  const outcomes = await Promise.allSettled(pending)
  let notDurable: unknown
  const refusals = outcomes.map((outcome) => {
    if (outcome.status === 'fulfilled') return undefined
    const refusedNow = refusal(outcome.reason)
    refused?.inc({ reason: refusedNow.reason })
    notDurable ??= outcome.reason
    return refusedNow
  })
  if (notDurable) log.warn({ err: notDurable }, 'items of a batch not durable in time')
  return { shed: false, refusals }
}
