import { deadLetterTopic, redisKeys, type WorkerConfig } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { CircuitState } from 'cockatiel'
import type { Redis } from 'ioredis'
import type { Consumer, Kafka, Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { ClassifyRules } from './classify.js'
import { KafkaDeadLetters } from './dead-letters.js'
import { type BatchContext, handleBatch, storesBreaker } from './handle-batch.js'
import { keepPartitionLag, type WorkerMetrics } from './metrics.js'
import { type ClickStores, recordClicks } from './record-clicks.js'
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
  const breaker = storesBreaker()
  breaker.onStateChange((state) => {
    metrics.breakerState.set(state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2)
    logger.warn({ state: CircuitState[state] }, 'stores circuit breaker changed state')
  })
  const resumeTimers = new Set<NodeJS.Timeout>()
  const batchContext: BatchContext = {
    record: (batch) => recordClicks(batch, stores),
    guard: (work) => breaker.execute(work),
    seek: (position) => consumer.seek(position),
    later: (fn, ms) => {
      const timer = setTimeout(() => {
        resumeTimers.delete(timer)
        fn()
      }, ms)
      resumeTimers.add(timer)
    },
    now: Date.now,
    retryDelayMs,
    failures: new Map(),
    metrics,
    logger,
  }
  let joined = false
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true
    logger.info({ assignment: e.payload.memberAssignment }, 'joined consumer group')
    void keepPartitionLag(metrics.partitionLag, e.payload.memberAssignment[config.KAFKA_TOPIC] ?? [])
  })
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false
    metrics.partitionLag.reset()
    logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed')
  })
  // Out of the group, this worker holds no partition: its lag series go until it joins again.
  consumer.on(consumer.events.STOP, () => {
    joined = false
    metrics.partitionLag.reset()
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
        eachBatch: async (payload) => {
          await handleBatch(payload, batchContext)
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
