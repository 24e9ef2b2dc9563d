import { setTimeout as sleep } from 'node:timers/promises'
import type { KafkaConnectionConfig } from '@adtrack/contracts'
// NOTE: the CA file rule (read at start, re-read for each connection) is the database's too: one place.
import { PemFileError, pemCertificateFile, withCurrentCa } from '@adtrack/db'
import { Kafka, type KafkaConfig, type logCreator, logLevel, type SASLOptions } from 'kafkajs'
import type { Logger } from 'pino'
import { ConfigError } from './config.js'

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

/**
 * kafkajs's `ssl` and `sasl` from the Kafka settings (KAFKA_TLS*, KAFKA_SASL_*). Reads the CA file, so
 * a missing or unreadable one stops the start; throws a ConfigError naming every variable that is wrong.
 * Each new connection then reads the CA file again (pemCertificateFile), so a renewed CA needs no restart.
 * NOTE: TLS verifies the brokers' certificates and host names always (there is no switch to skip it);
 * a private CA (Strimzi's cluster CA) goes in KAFKA_TLS_CA_FILE.
 */
export function kafkaSecurity(config: KafkaConnectionConfig): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const problems: string[] = []
  const caFile = config.KAFKA_TLS_CA_FILE
  const tls = config.KAFKA_TLS || caFile !== ''
  let ca: (() => string) | undefined
  if (caFile !== '') {
    try {
      ca = pemCertificateFile(caFile, 'KAFKA_TLS_CA_FILE')
    } catch (err) {
      if (!(err instanceof PemFileError)) throw err
      problems.push(err.message)
    }
  }
  const mechanism = config.KAFKA_SASL_MECHANISM
  const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config
  if (mechanism === '') {
    if (username !== '' || password !== '') {
      problems.push('KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is empty')
    }
  } else {
    if (username === '')
      problems.push(`KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=${mechanism}`)
    if (password === '')
      problems.push(`KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=${mechanism}`)
    // PLAIN sends the password as it is; SCRAM never sends it, so it may go without TLS.
    if (mechanism === 'plain' && !tls) {
      problems.push('KAFKA_SASL_MECHANISM=plain sends the password in clear: set KAFKA_TLS=true')
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const readCa = ca
  return {
    ...(tls ? { ssl: readCa === undefined ? true : withCurrentCa({}, () => [readCa()]) } : {}),
    ...(mechanism === '' ? {} : { sasl: { mechanism, username, password } as SASLOptions }),
  }
}

/** A connection with neither TLS nor SASL (the local stack's PLAINTEXT listener): tests and tools. */
export function plaintextKafka(brokers: string | string[]): KafkaConnectionConfig {
  return {
    KAFKA_BROKERS: Array.isArray(brokers) ? brokers.join(',') : brokers,
    KAFKA_TLS: false,
    KAFKA_TLS_CA_FILE: '',
    KAFKA_SASL_MECHANISM: '',
    KAFKA_SASL_USERNAME: '',
    KAFKA_SASL_PASSWORD: '',
  }
}

export function createKafka(opts: {
  /** KAFKA_BROKERS and how to reach them (TLS, SASL), as the service's configuration gives them. */
  connection: KafkaConnectionConfig
  clientId: string
  logger: Logger
  /** Retries of kafkajs's own cluster retrier; leave unset for its default, 0 for a caller that retries itself. */
  clientRetries?: number
}): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: parseBrokers(opts.connection.KAFKA_BROKERS),
    ...kafkaSecurity(opts.connection),
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
