import type { Producer } from 'kafkajs'

export interface DeadLetter {
  topic: string
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer | null
  reason: string
}

/** Header names on a dead letter; the value and key are the original record's bytes, untouched. */
export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  topic: 'dlq-original-topic',
  partition: 'dlq-original-partition',
  offset: 'dlq-original-offset',
  failedAt: 'dlq-failed-at',
} as const

export interface DeadLetterSink {
  send(letters: DeadLetter[]): Promise<void>
}

/**
 * Sends records the worker cannot process to the dead-letter topic, acknowledged by all in-sync
 * replicas, so that the offset after them can be committed without losing them.
 */
export class KafkaDeadLetters implements DeadLetterSink {
  constructor(
    private readonly producer: Pick<Producer, 'send'>,
    private readonly dlqTopic: string,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    const failedAt = new Date().toISOString()
    await this.producer.send({
      topic: this.dlqTopic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          [DLQ_HEADERS.reason]: l.reason,
          [DLQ_HEADERS.topic]: l.topic,
          [DLQ_HEADERS.partition]: String(l.partition),
          [DLQ_HEADERS.offset]: l.offset,
          [DLQ_HEADERS.failedAt]: failedAt,
        },
      })),
    })
  }
}
