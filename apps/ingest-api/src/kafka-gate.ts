import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel'
import type { Producer, ProducerBatch } from 'kafkajs'
import pRetry, { AbortError } from 'p-retry'

/** What the producer needs of kafkajs: only sendBatch, so the logic is testable without a broker. */
export type BatchSender = Pick<Producer, 'sendBatch'>

export interface KafkaGateOptions {
  /** Further attempts after a failed send, until the caller's signal aborts. 0: one attempt only. */
  retries?: number
  /** First backoff; each next one doubles, times a random factor between 1 and 2, up to maxBackoffMs. */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** Consecutive failed attempts that open the circuit. */
  breakerThreshold?: number
  /** How long the circuit stays open before one trial send is let through (half-open). */
  halfOpenAfterMs?: number
  /** Called for each failed attempt at Kafka (not for sends refused by the open circuit). */
  onError?: (err: unknown) => void
}

/** 0 closed, 1 half-open, 2 open: the value of the kafka_breaker_state gauge. */
export type BreakerGaugeValue = 0 | 1 | 2

/**
 * Sends batches to Kafka through a circuit breaker (cockatiel) with bounded, jittered retries (p-retry),
 * until the caller's signal says stop (ClickProducer aborts it at the batch's deadline). A failure means
 * "Kafka does not hold this batch as far as we know"; it may still have written it, so whatever the
 * caller does next must tolerate a duplicate.
 * NOTE: each attempt is abandoned when the signal aborts because a kafkajs send cannot be cancelled and
 * can take far longer (connection and request timeouts, its own retries); an abandoned attempt that
 * succeeds late only produces a duplicate, which the worker counts once (by click_id).
 */
export class KafkaGate {
  private readonly breaker
  private readonly retries: number
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number

  constructor(
    private readonly sender: BatchSender,
    private readonly opts: KafkaGateOptions = {},
  ) {
    this.retries = opts.retries ?? 0
    this.minBackoffMs = opts.minBackoffMs ?? 50
    this.maxBackoffMs = opts.maxBackoffMs ?? 1000
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: opts.halfOpenAfterMs ?? 5000,
      breaker: new ConsecutiveBreaker(opts.breakerThreshold ?? 5),
    })
  }

  /** The circuit's state as the gauge reports it. */
  get state(): BreakerGaugeValue {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 0
      case CircuitState.HalfOpen:
        return 1
      default:
        return 2
    }
  }

  /**
   * Resolves once Kafka acknowledged the batch; rejects with the last error once retries run out, with
   * the signal's reason as soon as it aborts, or at once with BrokenCircuitError while the circuit is open.
   */
  async send(batch: ProducerBatch, signal?: AbortSignal): Promise<void> {
    await pRetry(
      async () => {
        try {
          await this.breaker.execute(() => abandonOnAbort(this.sender.sendBatch(batch), signal))
        } catch (err) {
          if (err instanceof BrokenCircuitError) throw new AbortError(err)
          this.opts.onError?.(err)
          throw err
        }
      },
      {
        retries: this.retries,
        minTimeout: this.minBackoffMs,
        maxTimeout: this.maxBackoffMs,
        factor: 2,
        randomize: true,
        unref: true,
        signal,
      },
    )
  }
}

/** The send, given up on when `signal` aborts (the send itself carries on unobserved). */
function abandonOnAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  // The abandoned send may still fail later; that must not become an unhandled rejection.
  promise.catch(() => undefined)
  let onAbort: (() => void) | undefined
  const giveUp = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([promise, giveUp]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  })
}

export { BrokenCircuitError }
