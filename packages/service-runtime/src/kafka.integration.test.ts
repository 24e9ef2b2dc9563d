import type { KafkaConnectionConfig } from '@adtrack/contracts'
import { stack, stackTls, uniqueName } from '@adtrack/test-support'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createKafka, ensureTopic, plaintextKafka } from './kafka.js'

const logger = pino({ level: 'silent' })
const client = (id: string) =>
  createKafka({ connection: plaintextKafka(stack().kafkaBrokers), clientId: id, logger })

describe('ensureTopic', () => {
  it('lets two services create the same topic at once: one creates it, both find it ready to produce to', async () => {
    const topic = uniqueName('ensure')
    const results = await Promise.all([
      ensureTopic(client('a'), topic, { partitions: 6, replicationFactor: 1 }),
      ensureTopic(client('b'), topic, { partitions: 6, replicationFactor: 1 }),
    ])
    expect(results.filter(Boolean)).toHaveLength(1)
    // Ready means every partition's leader answers: a send to each of them succeeds at the first try
    // (with the metadata alone as the test, such a send failed with NOT_LEADER_FOR_PARTITION).
    const kafka = new Kafka({
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 6 }, (_, partition) => ({ partition, value: 'x' })),
      })
    } finally {
      await producer.disconnect()
    }
    // A third call finds it and leaves it as it is.
    expect(await ensureTopic(client('c'), topic, { partitions: 3, replicationFactor: 1 })).toBe(false)
    const admin = kafka.admin()
    await admin.connect()
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    await admin.disconnect()
    expect(topics[0]?.partitions).toHaveLength(6)
  })
})

/** The Kafka settings a service is given for the stack's TLS listener (KAFKA_TLS_CA_FILE, KAFKA_SASL_*). */
function kafkaOverTls(overrides: Partial<KafkaConnectionConfig> = {}): KafkaConnectionConfig {
  const tls = stackTls()
  return {
    KAFKA_BROKERS: tls.kafkaBrokers.join(','),
    KAFKA_TLS: true,
    KAFKA_TLS_CA_FILE: tls.caFile,
    KAFKA_SASL_MECHANISM: tls.kafkaSasl.mechanism,
    KAFKA_SASL_USERNAME: tls.kafkaSasl.username,
    KAFKA_SASL_PASSWORD: tls.kafkaSasl.password,
    ...overrides,
  }
}

/** The broker count if an admin client connects and describes the cluster, else the error. */
async function tryKafka(connection: KafkaConnectionConfig): Promise<number | Error> {
  const admin = createKafka({ connection, clientId: 'tls-test', logger, clientRetries: 0 }).admin()
  try {
    await admin.connect()
    return (await admin.describeCluster()).brokers.length
  } catch (err) {
    return err as Error
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

describe('Kafka over TLS with SCRAM, as the services connect', () => {
  it('connects with the CA file and the SCRAM credentials', async () => {
    expect(await tryKafka(kafkaOverTls())).toBe(1)
  })

  it('refuses a wrong SCRAM password', async () => {
    const result = await tryKafka(kafkaOverTls({ KAFKA_SASL_PASSWORD: 'not-the-password' }))
    expect(result).toBeInstanceOf(Error)
    expect(String(result)).toMatch(/SASL SCRAM SHA512 authentication failed.*invalid credentials/i)
  })

  it("does not trust the broker's certificate without the CA that signed it", async () => {
    // Node.js's bundled CAs only: the stack's own CA is not among them.
    const result = await tryKafka(kafkaOverTls({ KAFKA_TLS_CA_FILE: '' }))
    expect(result).toBeInstanceOf(Error)
    expect(String(result)).toMatch(/certificate/i)
  })

  it('cannot reach the TLS listener in plain text', async () => {
    expect(await tryKafka(plaintextKafka(stackTls().kafkaBrokers))).toBeInstanceOf(Error)
  })
})
