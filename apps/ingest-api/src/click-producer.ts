import type { ClickMessage } from '@adtrack/contracts'
import type { Producer } from 'kafkajs'
import type { Histogram } from 'prom-client'

interface Pending {
  message: ClickMessage
  resolve: () => void
  reject: (err: Error) => void
}

/** What the producer needs of kafkajs: only sendBatch, so the batching logic is testable without a broker. */
export type BatchSender = Pick<Producer, 'sendBatch'>

/**
 * Collects clicks for up to `lingerMs` (or until `maxBatch` are waiting) and sends them to Kafka in one
 * sendBatch, resolving each click's promise only when the brokers have acknowledged the batch.
 * NOTE: kafkajs has no linger of its own; without this, every click would be its own produce request.
 * TRICKY: one batch is in flight at a time. The idempotent producer needs in-order sends per partition,
 * and clicks arriving during a send simply form the next, larger batch.
 */
export class ClickProducer {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private sending: Promise<void> | undefined

  constructor(
    private readonly sender: BatchSender,
    private readonly topic: string,
    private readonly opts: { lingerMs: number; maxBatch: number; produceSeconds?: Histogram<'outcome'> },
  ) {}

  /** Resolves once Kafka (all in-sync replicas) holds the click; rejects if the send fails. */
  send(message: ClickMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject })
      if (this.queue.length >= this.opts.maxBatch) this.flushSoon(0)
      else this.flushSoon(this.opts.lingerMs)
    })
  }

  get waiting(): number {
    return this.queue.length
  }

  /** Sends whatever is queued and waits for every send under way. */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.queue.length > 0 || this.sending) {
      await (this.sending ?? this.pump())
    }
  }

  private flushSoon(delayMs: number): void {
    if (this.sending) return // the running pump picks the queue up when its send completes
    if (delayMs === 0) {
      clearTimeout(this.timer)
      this.timer = undefined
      void this.pump()
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        void this.pump()
      }, delayMs)
    }
  }

  private pump(): Promise<void> {
    this.sending ??= (async () => {
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.splice(0, this.opts.maxBatch)
          await this.sendBatch(batch)
        }
      } finally {
        this.sending = undefined
      }
    })()
    return this.sending
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    const stopTimer = this.opts.produceSeconds?.startTimer()
    try {
      await this.sender.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: this.topic,
            messages: batch.map(({ message }) => ({ key: message.ad_id, value: JSON.stringify(message) })),
          },
        ],
      })
      stopTimer?.({ outcome: 'ok' })
      for (const p of batch) p.resolve()
    } catch (err) {
      stopTimer?.({ outcome: 'error' })
      for (const p of batch) p.reject(err as Error)
    }
  }
}
