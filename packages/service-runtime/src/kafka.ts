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

/** Creates the topic if it is missing; an existing topic is left as it is. */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  opts: { partitions: number; replicationFactor: number },
): Promise<boolean> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = await admin.listTopics()
    if (existing.includes(topic)) return false
    return await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: opts.partitions, replicationFactor: opts.replicationFactor }],
    })
  } finally {
    await admin.disconnect()
  }
}
