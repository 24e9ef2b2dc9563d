import type { ClickMessage } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { type BatchSender, ClickProducer } from './click-producer.js'

const click = (n: number): ClickMessage => ({
  v: 1,
  click_id: `click-${String(n).padStart(4, '0')}`,
  ad_id: String(n % 3),
  playback_time: n,
  received_at: new Date(0).toISOString(),
  ip: '127.0.0.1',
  user_agent: 'test',
})

/** Records each sendBatch call and lets the test decide when the broker "acknowledges". */
function fakeKafka() {
  const batches: { values: ClickMessage[]; keys: string[]; acks: number | undefined }[] = []
  const acks: Array<(err?: Error) => void> = []
  let concurrent = 0
  let maxConcurrent = 0
  const sender: BatchSender = {
    sendBatch: async (req) => {
      const messages = req.topicMessages?.[0]?.messages ?? []
      batches.push({
        values: messages.map((m) => JSON.parse(String(m.value))),
        keys: messages.map((m) => String(m.key)),
        acks: req.acks,
      })
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      await new Promise<void>((resolve, reject) => acks.push((err) => (err ? reject(err) : resolve())))
      concurrent--
      return []
    },
  }
  return { sender, batches, acks, maxConcurrent: () => maxConcurrent }
}

const tick = () => new Promise((r) => setTimeout(r, 5))

describe('ClickProducer', () => {
  it('sends clicks that arrive within the linger time as one batch, keyed by ad, acks from all replicas', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 20, maxBatch: 100 })
    const sent = [1, 2, 3].map((n) => producer.send(click(n)))
    await new Promise((r) => setTimeout(r, 40))
    expect(kafka.batches).toHaveLength(1)
    expect(kafka.batches[0]?.values.map((v) => v.playback_time)).toEqual([1, 2, 3])
    expect(kafka.batches[0]?.keys).toEqual(['1', '2', '0'])
    expect(kafka.batches[0]?.acks).toBe(-1)
    kafka.acks[0]?.()
    await Promise.all(sent)
  })

  it('does not resolve a click before the broker acknowledges its batch', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 0, maxBatch: 10 })
    let done = false
    const sent = producer.send(click(1)).then(() => {
      done = true
    })
    await tick()
    expect(done).toBe(false)
    kafka.acks[0]?.()
    await sent
    expect(done).toBe(true)
  })

  it('keeps one batch in flight and gathers later clicks into the next, split at maxBatch', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 0, maxBatch: 3 })
    const first = producer.send(click(0))
    await tick()
    const rest = Array.from({ length: 5 }, (_, i) => producer.send(click(i + 1)))
    await tick()
    expect(kafka.batches).toHaveLength(1) // the other five wait for the first ack
    kafka.acks[0]?.()
    await first
    await tick()
    expect(kafka.batches.map((b) => b.values.length)).toEqual([1, 3])
    kafka.acks[1]?.()
    await tick()
    expect(kafka.batches.map((b) => b.values.length)).toEqual([1, 3, 2])
    kafka.acks[2]?.()
    await Promise.all(rest)
    expect(kafka.maxConcurrent()).toBe(1)
  })

  it('rejects every click of a failed batch and keeps working afterwards', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 5, maxBatch: 10 })
    const failed = [producer.send(click(1)), producer.send(click(2))]
    await new Promise((r) => setTimeout(r, 15))
    kafka.acks[0]?.(new Error('broker gone'))
    for (const p of failed) await expect(p).rejects.toThrow('broker gone')
    const next = producer.send(click(3))
    await new Promise((r) => setTimeout(r, 15))
    kafka.acks[1]?.()
    await expect(next).resolves.toBeUndefined()
  })

  it('flush() sends what is queued without waiting for the linger and waits for the ack', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 60_000, maxBatch: 10 })
    const sent = producer.send(click(1))
    expect(producer.waiting).toBe(1)
    const flushed = producer.flush()
    await tick()
    expect(kafka.batches).toHaveLength(1)
    kafka.acks[0]?.()
    await flushed
    await sent
    expect(producer.waiting).toBe(0)
  })
})
