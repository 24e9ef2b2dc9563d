import { deadLetterTopic, redisKeys, type WorkerConfig } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel'
import type { Redis } from 'ioredis'
import type { Consumer, Kafka, Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { ClassifyRules } from './classify.js'
import { KafkaDeadLetters } from './dead-letters.js'
import type { WorkerMetrics } from './metrics.js'
import { type ClickStores, recordClicks, StoreError } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'

export interface WorkerDeps {
  rules: ClassifyRules
  kafka: Kafka
  sql: Sql
  redis: Redis
  logger: Logger
  metrics: WorkerMetrics
}

export interface ClickWorker {
  consumer: Consumer
  start(): Promise<void>
  /** Finishes the batch in flight, commits its offsets and leaves the group. */
  stop(): Promise<void>
  /** True while the consumer is a member of the group. */
  readonly joined: boolean
  /** True while the stores' circuit breaker is open (Postgres or Redis failing). */
  readonly storesFailing: boolean
}

/** Delay before a failed partition is fetched again: exponential with jitter, capped. */
export function retryDelayMs(attempt: number, { baseMs = 250, maxMs = 15_000 } = {}): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16))
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}

/** Builds the consumer-group worker from config and dependencies; start() begins consuming. */
export function buildWorker(
  config: Pick<WorkerConfig, 'KAFKA_TOPIC' | 'KAFKA_GROUP_ID' | 'REDIS_KEY_PREFIX'> & {
    sessionTimeoutMs?: number
  },
  deps: WorkerDeps,
): ClickWorker {
  const { logger, metrics } = deps
  const consumer = deps.kafka.consumer({
    groupId: config.KAFKA_GROUP_ID,
    allowAutoTopicCreation: false,
    sessionTimeout: config.sessionTimeoutMs ?? 30_000,
    // A dead member holds up a rebalance until this runs out, so keep it close to the session timeout.
    rebalanceTimeout: Math.max(10_000, (config.sessionTimeoutMs ?? 30_000) * 2),
    heartbeatInterval: Math.max(500, Math.floor((config.sessionTimeoutMs ?? 30_000) / 10)),
  })
  const producer: Producer = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  const stores: ClickStores = {
    sql: deps.sql,
    counters: new RedisCounters(deps.redis, redisKeys(config.REDIS_KEY_PREFIX)),
    deadLetters: new KafkaDeadLetters(producer, deadLetterTopic(config.KAFKA_TOPIC)),
    rules: deps.rules,
  }
  // NOTE: one breaker for the stores of all partitions: when Postgres or Redis is down every partition
  // fails alike, and once it opens, partitions wait out the cool-down instead of each hammering it.
  const breaker = circuitBreaker(handleAll, {
    halfOpenAfter: 5000,
    breaker: new ConsecutiveBreaker(5),
  })
  breaker.onStateChange((state) => {
    metrics.breakerState.set(state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2)
    logger.warn({ state: CircuitState[state] }, 'stores circuit breaker changed state')
  })
  const failures = new Map<number, number>()
  const resumeTimers = new Set<NodeJS.Timeout>()
  let joined = false
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true
    logger.info({ assignment: e.payload.memberAssignment }, 'joined consumer group')
  })
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false
    logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed')
  })
  consumer.on(consumer.events.STOP, () => {
    joined = false
  })

  return {
    consumer,
    get joined() {
      return joined
    },
    get storesFailing() {
      return breaker.state !== CircuitState.Closed
    },
    async start() {
      await producer.connect()
      await consumer.connect()
      await consumer.subscribe({ topic: config.KAFKA_TOPIC, fromBeginning: true })
      await consumer.run({
        partitionsConsumedConcurrently: 2,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return
          const { topic, partition } = batch
          const stopTimer = metrics.batchSeconds.startTimer()
          let outcome: Awaited<ReturnType<typeof recordClicks>>
          try {
            outcome = await breaker.execute(() =>
              recordClicks({ topic, partition, records: batch.messages }, stores),
            )
          } catch (err) {
            // Postgres, Redis or the dead-letter topic failed. Nothing was committed, so pause this
            // partition, rewind it to the batch's start and fetch it again after a backoff: no crash
            // loop, and the replay is harmless because recordClicks is idempotent.
            const attempt = (failures.get(partition) ?? 0) + 1
            failures.set(partition, attempt)
            const delay = err instanceof BrokenCircuitError ? 5000 : retryDelayMs(attempt)
            metrics.batchFailures.inc()
            // NOTE: a batch waiting out a reconciliation is not a store failure.
            if (err instanceof StoreError && !/RECONCILING/.test(err.message))
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
            consumer.seek({
              topic,
              partition,
              offset: batch.firstOffset() ?? batch.messages[0]?.offset ?? '0',
            })
            const timer = setTimeout(() => {
              resumeTimers.delete(timer)
              resume()
            }, delay)
            resumeTimers.add(timer)
            return
          }
          stopTimer()
          failures.delete(partition)
          if (!outcome) return
          metrics.batchSize.observe(batch.messages.length)
          metrics.partitionLag.set({ partition: String(partition) }, Number(batch.offsetLag()))
          metrics.clicks.inc({ result: 'counted' }, outcome.counted)
          for (const [reason, n] of Object.entries(outcome.invalid)) {
            metrics.clicks.inc({ result: 'invalid' }, n)
            metrics.invalidClicks.inc({ reason }, n)
          }
          metrics.clicks.inc({ result: 'duplicate' }, outcome.duplicates)
          metrics.clicks.inc({ result: 'rejected' }, outcome.rejected.length)
          for (const r of outcome.rejected) {
            logger.warn({ partition, offset: r.offset, reason: r.reason }, 'record sent to dead-letter topic')
          }
          const newest = batch.messages.at(-1)
          if (newest)
            metrics.endToEndSeconds.observe(Math.max(0, Date.now() - Number(newest.timestamp)) / 1000)
          // Postgres and Redis hold everything up to here: only now may the offset be committed.
          resolveOffset(outcome.lastOffset)
          await heartbeat()
        },
      })
    },
    async stop() {
      for (const timer of resumeTimers) clearTimeout(timer)
      await consumer.disconnect()
      await producer.disconnect()
    },
  }
}
