import { getHeapStatistics } from 'node:v8'
import type { ErrorBody } from '@adtrack/contracts'
import type { FastifyUnderPressureOptions } from '@fastify/under-pressure'
import type { FastifyReply } from 'fastify'
import type { Counter } from 'prom-client'
import { QueueFullError } from './click-producer.js'
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

/** The 503 of each reason the producer refuses a click for (clicks_refused_total's reason label). */
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
