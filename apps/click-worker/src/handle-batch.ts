import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel'
import type { EachBatchPayload } from 'kafkajs'
import type { Logger } from 'pino'
import type { WorkerMetrics } from './metrics.js'
import type { BatchOutcome, KafkaRecord, PartitionBatch } from './record-clicks.js'
import { ReconcilingError, StoreError } from './store-errors.js'

/** The parts of kafkajs's eachBatch payload that handling a batch uses; tests fake exactly these. */
export type BatchPayload = Pick<
  EachBatchPayload,
  'resolveOffset' | 'heartbeat' | 'isRunning' | 'isStale' | 'pause'
> & {
  batch: {
    topic: string
    partition: number
    messages: (KafkaRecord & { timestamp: string })[]
    firstOffset(): string | null
    offsetLag(): string
  }
}

export interface BatchContext {
  /** The per-batch job (recordClicks with the worker's stores). */
  record(batch: PartitionBatch): Promise<BatchOutcome | null>
  /** Runs one try of the job; in the worker, the stores' circuit breaker. */
  guard<T>(work: () => Promise<T>): Promise<T>
  /** consumer.seek: where the paused partition is fetched from when it resumes. */
  seek(position: { topic: string; partition: number; offset: string }): void
  /** Calls `fn` after `ms`; the worker cancels what is pending when it stops. */
  later(fn: () => void, ms: number): void
  /** Wall clock in ms (Date.now), for the end-to-end delay. */
  now(): number
  /** Backoff before the `attempt`th retry of a partition. */
  retryDelayMs(attempt: number): number
  /** Consecutive failed tries per partition; cleared when one succeeds. */
  failures: Map<number, number>
  metrics: WorkerMetrics
  logger: Logger
}

/** Wait before trying again while the circuit breaker is open (its half-open delay). */
export const BREAKER_OPEN_RETRY_MS = 5000

/**
 * The circuit breaker around the stores: opens after 5 failed tries in a row, tries again after 5 s.
 * NOTE: a batch refused while reconciliation runs is waiting its turn, not failing, so it does not
 * count; records a store refuses for their content never reach it (recordClicks isolates them).
 */
export function storesBreaker() {
  return circuitBreaker(
    handleWhen((err) => !(err instanceof ReconcilingError)),
    { halfOpenAfter: BREAKER_OPEN_RETRY_MS, breaker: new ConsecutiveBreaker(5) },
  )
}

/**
 * What the consumer does with one partition batch: record it, then commit the offset the job returns;
 * or, when a store is unavailable, commit nothing, pause the partition, rewind it to the batch's start
 * and resume it after a backoff. Records a store refuses for their content never get here as a
 * failure: the job dead-letters them and returns an offset past them.
 */
export async function handleBatch(
  payload: BatchPayload,
  ctx: BatchContext,
): Promise<'skipped' | 'committed' | 'retrying'> {
  const { batch, resolveOffset, heartbeat, isRunning, isStale, pause } = payload
  const { metrics, logger } = ctx
  if (!isRunning() || isStale() || batch.messages.length === 0) return 'skipped'
  const { topic, partition } = batch
  const stopTimer = metrics.batchSeconds.startTimer()
  let outcome: BatchOutcome | null
  try {
    outcome = await ctx.guard(() => ctx.record({ topic, partition, records: batch.messages }))
  } catch (err) {
    // Postgres, Redis or the dead-letter topic is unavailable. Nothing was committed, so pause this
    // partition, rewind it to the batch's start and fetch it again after a backoff: no crash loop, and
    // the replay is harmless because the job is idempotent.
    const attempt = (ctx.failures.get(partition) ?? 0) + 1
    ctx.failures.set(partition, attempt)
    const delay = err instanceof BrokenCircuitError ? BREAKER_OPEN_RETRY_MS : ctx.retryDelayMs(attempt)
    metrics.batchFailures.inc()
    // NOTE: a batch waiting out a reconciliation is not a store failure.
    if (err instanceof StoreError && !(err instanceof ReconcilingError))
      metrics.storeErrors.inc({ store: err.store })
    logger.warn(
      {
        err: err instanceof BrokenCircuitError ? 'circuit open' : err,
        partition,
        attempt,
        retryInMs: delay,
      },
      'batch failed; partition paused',
    )
    const resume = pause()
    ctx.seek({ topic, partition, offset: batch.firstOffset() ?? batch.messages[0]?.offset ?? '0' })
    ctx.later(resume, delay)
    return 'retrying'
  }
  stopTimer()
  ctx.failures.delete(partition)
  if (!outcome) return 'skipped'
  metrics.batchSize.observe(batch.messages.length)
  metrics.partitionLag.set({ partition: String(partition) }, Number(batch.offsetLag()))
  metrics.clicks.inc({ result: 'counted' }, outcome.counted)
  for (const [reason, n] of Object.entries(outcome.invalid)) {
    metrics.clicks.inc({ result: 'invalid' }, n)
    metrics.invalidClicks.inc({ reason }, n)
  }
  metrics.clicks.inc({ result: 'duplicate' }, outcome.duplicates)
  metrics.clicks.inc({ result: 'rejected' }, outcome.rejected.length)
  metrics.clicks.inc({ result: 'refused' }, outcome.refused.filter((r) => r.click).length)
  for (const [type, outcomes] of Object.entries(outcome.events))
    for (const [result, n] of Object.entries(outcomes)) metrics.events.inc({ type, outcome: result }, n)
  for (const r of outcome.rejected)
    logger.warn({ partition, offset: r.offset, reason: r.reason }, 'record sent to dead-letter topic')
  for (const r of outcome.refused) {
    metrics.storeErrors.inc({ store: r.store })
    logger.warn(
      { partition, offset: r.offset, reason: r.reason },
      'record refused by a store; sent to dead-letter topic',
    )
  }
  const newest = batch.messages.at(-1)
  if (newest) metrics.endToEndSeconds.observe(Math.max(0, ctx.now() - Number(newest.timestamp)) / 1000)
  // Postgres and Redis hold everything up to here (or it is on the dead-letter topic): only now may
  // the offset be committed.
  resolveOffset(outcome.lastOffset)
  await heartbeat()
  return 'committed'
}
