import { redisKeys, type WorkerConfig } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Redis } from 'ioredis'
import type { Consumer, Kafka } from 'kafkajs'
import type { Logger } from 'pino'
import type { WorkerMetrics } from './metrics.js'
import { recordClicks } from './record-clicks.js'
import { RedisCounters } from './redis-store.js'

export interface WorkerDeps {
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
}

/** Builds the consumer-group worker from config and dependencies; start() begins consuming. */
export function buildWorker(
  config: Pick<WorkerConfig, 'KAFKA_TOPIC' | 'KAFKA_GROUP_ID' | 'REDIS_KEY_PREFIX'>,
  deps: WorkerDeps,
): ClickWorker {
  const { logger, metrics } = deps
  const counters = new RedisCounters(deps.redis, redisKeys(config.REDIS_KEY_PREFIX))
  const consumer = deps.kafka.consumer({
    groupId: config.KAFKA_GROUP_ID,
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
  })
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
    async start() {
      await consumer.connect()
      await consumer.subscribe({ topic: config.KAFKA_TOPIC, fromBeginning: true })
      await consumer.run({
        partitionsConsumedConcurrently: 2,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return
          const stopTimer = metrics.batchSeconds.startTimer()
          let outcome: Awaited<ReturnType<typeof recordClicks>>
          try {
            outcome = await recordClicks(
              { topic: batch.topic, partition: batch.partition, records: batch.messages },
              { sql: deps.sql, counters },
            )
          } catch (err) {
            metrics.batchFailures.inc()
            logger.error(
              { err, partition: batch.partition, firstOffset: batch.firstOffset() },
              'batch failed',
            )
            // Nothing resolved: kafkajs retries, then restarts the consumer from the committed offset.
            throw err
          }
          stopTimer()
          if (!outcome) return
          metrics.batchSize.observe(batch.messages.length)
          metrics.clicks.inc({ result: 'counted' }, outcome.counted)
          metrics.clicks.inc({ result: 'duplicate' }, outcome.duplicates)
          metrics.clicks.inc({ result: 'rejected' }, outcome.rejected.length)
          for (const r of outcome.rejected) {
            logger.warn({ partition: batch.partition, offset: r.offset, reason: r.reason }, 'rejected record')
          }
          // Postgres and Redis hold everything up to here: only now may the offset be committed.
          resolveOffset(outcome.lastOffset)
          await heartbeat()
        },
      })
    },
    async stop() {
      await consumer.disconnect()
    },
  }
}
