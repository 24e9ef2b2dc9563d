import { setTimeout as sleep } from 'node:timers/promises'
import type { IngestConfig, KafkaConnectionConfig } from '@adtrack/contracts'
import { createKafka, ensureTopic } from '@adtrack/service-runtime/kafka'
import { Partitioners, type Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { BatchSender } from './kafka-gate.js'

/** ingest-api's link to Kafka: what the click producer sends through, and whether it is connected. */
export interface KafkaConnection {
  readonly sender: BatchSender
  /** Resolves once the producer is connected, or once close() stopped trying. */
  readonly connected: Promise<void>
  /** Gives up connecting (shutdown began): an attempt under way is left to finish or fail. */
  stopConnecting(): void
  /** Stops trying to connect (waiting a little for an attempt under way), then disconnects. */
  close(): Promise<void>
}

type KafkaSettings = KafkaConnectionConfig &
  Pick<
    IngestConfig,
    | 'KAFKA_CLIENT_ID'
    | 'KAFKA_TOPIC'
    | 'KAFKA_TOPIC_PARTITIONS'
    | 'KAFKA_REPLICATION_FACTOR'
    | 'PRODUCE_MAX_IN_FLIGHT'
  >

/**
 * Creates the click topic if needed and connects the producer in the background, retrying until it
 * works. Kafka being down at start does not stop the service: the spool takes the clicks (and keeps what
 * a previous run left) and the producer's replay loop sends them once this has connected.
 */
export function connectKafka(config: KafkaSettings, logger: Logger): KafkaConnection {
  const kafka = createKafka({ connection: config, clientId: config.KAFKA_CLIENT_ID, logger })
  const producer = createClickKafkaProducer({
    connection: config,
    clientId: config.KAFKA_CLIENT_ID,
    logger,
    maxInFlight: config.PRODUCE_MAX_IN_FLIGHT,
  })
  const stopConnecting = new AbortController()
  const connect = async (signal: AbortSignal): Promise<void> => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const created = await ensureTopic(kafka, config.KAFKA_TOPIC, {
          partitions: config.KAFKA_TOPIC_PARTITIONS,
          replicationFactor: config.KAFKA_REPLICATION_FACTOR,
        })
        if (created) {
          logger.info(
            { topic: config.KAFKA_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS },
            'created topic',
          )
        }
        await producer.connect()
        return
      } catch (err) {
        logger.warn({ err, attempt }, 'cannot reach Kafka yet; retrying (clicks go to the spool meanwhile)')
        await sleep(Math.min(250 * 2 ** attempt, 10_000), undefined, { signal }).catch(() => undefined)
      }
    }
  }
  const connected = connect(stopConnecting.signal)
  return {
    sender: producer,
    connected,
    stopConnecting: () => stopConnecting.abort(),
    async close() {
      stopConnecting.abort()
      // A connection attempt still under way (Kafka down since start) may take a few seconds to give up.
      await Promise.race([connected, sleep(2000)])
      await producer.disconnect()
    },
  }
}

/** A stand-in for Kafka that is always connected (tests with a fake sendBatch). */
export function connectedSender(sender: BatchSender): KafkaConnection {
  return {
    sender,
    connected: Promise.resolve(),
    stopConnecting() {},
    close: async () => {},
  }
}

/**
 * The kafkajs producer for clicks, on a client of its own that fails fast: every retry is KafkaGate's
 * (bounded, jittered, within the request deadline, behind the circuit breaker).
 * NOTE: with kafkajs's default client retries, a send to a broker that has gone away fails only after
 * some 16 s of reconnecting (its cluster-level retrier, which the producer's `retry` option does not
 * reach); the first clicks of every outage would wait out the whole WRITE_TIMEOUT before being spooled.
 * NOTE: not kafkajs's idempotent producer either: it insists on retrying forever. A batch that reaches
 * Kafka twice (a lost acknowledgement, a replay after a crash) is counted once: the worker deduplicates
 * by click_id.
 */
function createClickKafkaProducer(opts: {
  connection: KafkaConnectionConfig
  clientId: string
  logger: Logger
  /** Produce requests one broker connection may have open at once (ClickProducer's maxInFlight). */
  maxInFlight?: number
}): Producer {
  const { maxInFlight = 1, ...clientOpts } = opts
  const kafka = createKafka({ ...clientOpts, clientRetries: 0 })
  return kafka.producer({
    idempotent: false,
    maxInFlightRequests: maxInFlight,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 0 },
  })
}
