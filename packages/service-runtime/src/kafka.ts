import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, type logCreator, logLevel } from 'kafkajs'
import type { Logger } from 'pino'

/** Comma-separated KAFKA_BROKERS into the list kafkajs wants. */
export const parseBrokers = (brokers: string): string[] =>
  brokers
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)

/** kafkajs logs through the service's pino logger, so they are JSON like everything else. */
function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log
      const fields = { ...extra, component: 'kafkajs' }
      if (level === logLevel.ERROR || level === logLevel.NOTHING) logger.error(fields, message)
      else if (level === logLevel.WARN) logger.warn(fields, message)
      else if (level === logLevel.INFO) logger.info(fields, message)
      else logger.debug(fields, message)
    }
}

export function createKafka(opts: {
  brokers: string
  clientId: string
  logger: Logger
  /** Retries of kafkajs's own cluster retrier; leave unset for its default, 0 for a caller that retries itself. */
  clientRetries?: number
}): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: parseBrokers(opts.brokers),
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(opts.logger),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    ...(opts.clientRetries === undefined ? {} : { retry: { retries: opts.clientRetries } }),
  })
}

/**
 * Creates the topic if it is missing (an existing topic is left as it is), then waits until the leader
 * of every one of its partitions answers, so that the caller can produce to it or subscribe at once.
 * Resolves true if this call created it.
 * TRICKY: ingest-api and click-worker both call this at start-up. When both create the topic at once,
 * one is told it already exists, and a KRaft broker may still answer "unknown topic" for a moment after
 * the controller created it (kafkajs's own waitForLeaders does not retry that, and the service died of
 * it in `npm start`), so the wait is ours and retries until `timeoutMs`.
 */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  opts: { partitions: number; replicationFactor: number; timeoutMs?: number },
): Promise<boolean> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    let created = false
    if (!(await admin.listTopics()).includes(topic)) {
      created = await admin.createTopics({
        waitForLeaders: false,
        topics: [{ topic, numPartitions: opts.partitions, replicationFactor: opts.replicationFactor }],
      })
    }
    const until = Date.now() + (opts.timeoutMs ?? 30_000)
    for (;;) {
      let why: string
      try {
        // Offsets come from each partition's leader itself: they answer only once every partition is
        // really served (the metadata may name a leader a moment before it takes requests).
        const offsets = await admin.fetchTopicOffsets(topic)
        if (offsets.length > 0) return created
        why = 'no partitions yet'
      } catch (err) {
        why = (err as Error).message
      }
      if (Date.now() >= until) throw new Error(`topic ${topic} is not ready: ${why}`)
      await sleep(200)
    }
  } finally {
    await admin.disconnect()
  }
}
