import { stack, uniqueName } from '@adtrack/test-support'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createKafka, ensureTopic } from './kafka.js'

const logger = pino({ level: 'silent' })
const client = (id: string) => createKafka({ brokers: stack().kafkaBrokers.join(','), clientId: id, logger })

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
