import type { ClickMessage, EventMessage } from '@adtrack/contracts'
import { describe, expect, it, vi } from 'vitest'
import {
  type BatchSender,
  ClickProducer,
  type ClickSpool,
  DeadlineError,
  QueueFullError,
} from './click-producer.js'
import { SpoolFullError } from './spool.js'

const click = (n: number): ClickMessage => ({
  v: 1,
  click_id: `click-${String(n).padStart(4, '0')}`,
  ad_id: String(n % 3),
  playback_time: n,
  received_at: new Date(0).toISOString(),
  ip: '127.0.0.1',
  user_agent: 'test',
})

const event = (impressionId: string): EventMessage => ({
  v: 2,
  type: 'start',
  impression_id: impressionId,
  ad_id: '1',
  served_at: new Date(0).toISOString(),
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

  it('with maxInFlight, sends the next batches while earlier ones await their ack, never more at once', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 5, maxBatch: 2, maxInFlight: 2 })
    const sent = Array.from({ length: 7 }, (_, i) => producer.send(click(i)))
    await new Promise((r) => setTimeout(r, 20))
    // Two batches of two went out together; the rest waits for a free slot.
    expect(kafka.batches.map((b) => b.values.length)).toEqual([2, 2])
    let settled = 0
    for (const p of sent) void p.then(() => settled++)
    kafka.acks[1]?.() // the second batch's ack comes first: its clicks resolve, the first's do not
    await tick()
    expect(settled).toBe(2)
    expect(kafka.batches.map((b) => b.values.length)).toEqual([2, 2, 2])
    kafka.acks[0]?.()
    await tick()
    expect(kafka.batches.map((b) => b.values.length)).toEqual([2, 2, 2, 1])
    kafka.acks[2]?.()
    kafka.acks[3]?.()
    await Promise.all(sent)
    expect(kafka.maxConcurrent()).toBe(2)
    expect(kafka.batches.flatMap((b) => b.values.map((v) => v.playback_time)).sort()).toEqual([
      0, 1, 2, 3, 4, 5, 6,
    ])
  })

  it('flush() waits for every batch in flight', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      lingerMs: 1000,
      maxBatch: 1,
      maxInFlight: 3,
    })
    for (let i = 0; i < 3; i++) void producer.send(click(i))
    let flushed = false
    const flushing = producer.flush().then(() => {
      flushed = true
    })
    await tick()
    kafka.acks[0]?.()
    kafka.acks[2]?.()
    await tick()
    expect(flushed).toBe(false)
    kafka.acks[1]?.()
    await flushing
    expect(flushed).toBe(true)
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

/** The producer's spool, in memory: segments sealed when handed out, like the one on disk. */
class MemorySpool implements ClickSpool {
  segments: { id: number; records: Buffer[]; sealed: boolean }[] = []
  deleted: number[] = []
  private nextId = 1
  private listeners = new Set<() => void>()
  constructor(private readonly capacity = Number.POSITIVE_INFINITY) {}

  get records(): number {
    return this.segments.reduce((n, s) => n + s.records.length, 0)
  }
  get isEmpty(): boolean {
    return this.records === 0
  }
  get clickIds(): string[] {
    return this.segments.flatMap((s) => s.records.map((r) => JSON.parse(r.toString()).click_id))
  }
  async append(payloads: Buffer[]): Promise<void> {
    if (this.records + payloads.length > this.capacity) throw new SpoolFullError(this.records, this.capacity)
    let last = this.segments.at(-1)
    if (!last || last.sealed) {
      last = { id: this.nextId++, records: [], sealed: false }
      this.segments.push(last)
    }
    last.records.push(...payloads)
    for (const listener of this.listeners) listener()
  }
  async nextSegment() {
    const oldest = this.segments[0]
    if (!oldest) return undefined
    oldest.sealed = true
    return { id: oldest.id, records: [...oldest.records] }
  }
  async deleteSegment(id: number): Promise<void> {
    this.segments = this.segments.filter((s) => s.id !== id)
    this.deleted.push(id)
  }
  /** Later appends start a new segment. */
  seal(): void {
    const last = this.segments.at(-1)
    if (last) last.sealed = true
  }
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/** A broker that is up, down (refuses at once), or holds each send until the test acknowledges it. */
function switchableKafka() {
  let mode: 'up' | 'down' | 'held' = 'up'
  const delivered: string[] = []
  const attempts: string[][] = []
  const held: Array<() => void> = []
  const sender: BatchSender = {
    sendBatch: async (req) => {
      const ids = (req.topicMessages?.[0]?.messages ?? []).map((m) => JSON.parse(String(m.value)).click_id)
      attempts.push(ids)
      if (mode === 'down') throw new Error('connect ECONNREFUSED')
      if (mode === 'held') await new Promise<void>((resolve) => held.push(resolve))
      delivered.push(...ids)
      return []
    },
  }
  return {
    sender,
    delivered,
    attempts,
    held,
    set: (m: typeof mode) => {
      mode = m
    },
  }
}

const ids = (...ns: number[]) => ns.map((n) => click(n).click_id)
const payloads = (...ns: number[]) => ns.map((n) => Buffer.from(JSON.stringify(click(n))))
const fast = { minBackoffMs: 1, maxBackoffMs: 2, halfOpenAfterMs: 20, lingerMs: 0, maxBatch: 100 }
const soon = () => performance.now() + 5_000

describe('ClickProducer with a spool', () => {
  it('spools a batch Kafka refuses, resolving its clicks once the spool holds them', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const spool = new MemorySpool()
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, retries: 2, spool })
    await Promise.all([producer.send(click(1), soon()), producer.send(click(2), soon())])
    expect(spool.clickIds).toEqual(ids(1, 2))
    expect(kafka.delivered).toEqual([])
    expect(kafka.attempts.length).toBeGreaterThanOrEqual(3) // the batch was retried before it was spooled
    await producer.close()
  })

  it('gives Kafka only until the deadline (less the spool reserve) before spooling', async () => {
    const kafka = switchableKafka()
    kafka.set('held') // Kafka accepts the connection and never answers
    const spool = new MemorySpool()
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      ...fast,
      retries: 1000,
      spool,
      spoolReserveMs: 20,
    })
    await producer.send(click(1), performance.now() + 60)
    expect(spool.clickIds).toEqual(ids(1))
    await producer.close()
  })

  it('without a spool, rejects a click Kafka did not acknowledge before its deadline', async () => {
    const kafka = switchableKafka()
    kafka.set('held')
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, retries: 1000 })
    await expect(producer.send(click(1), performance.now() + 30)).rejects.toThrow(/deadline/)
  })

  it('sends every click to the spool while it holds anything, so nothing overtakes the backlog', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const spool = new MemorySpool()
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, spool })
    await producer.send(click(1), soon())
    await producer.send(click(2), soon())
    // Kafka is back but slow: the replay's first send is in flight when click 3 arrives.
    kafka.set('held')
    await vi.waitFor(() => expect(kafka.held).toHaveLength(1), { timeout: 2000 })
    await producer.send(click(3), soon())
    expect(spool.clickIds).toEqual(ids(1, 2, 3))
    expect(kafka.held).toHaveLength(1) // click 3 did not go to Kafka on its own
    kafka.set('up')
    kafka.held.shift()?.()
    await vi.waitFor(() => expect(spool.isEmpty).toBe(true), { timeout: 2000 })
    await producer.send(click(4), soon()) // the spool is empty again: straight to Kafka
    expect(kafka.delivered).toEqual(ids(1, 2, 3, 4))
    await producer.close()
  })

  it('replays oldest segment first and deletes a segment only once Kafka acknowledged all of it', async () => {
    const spool = new MemorySpool()
    await spool.append(payloads(1, 2, 3, 4, 5))
    spool.seal()
    await spool.append(payloads(6))
    const kafka = switchableKafka()
    kafka.set('held')
    const replayed = { inc: vi.fn() }
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      ...fast,
      maxBatch: 2,
      spool,
      replayedClicks: replayed as never,
    })
    await vi.waitFor(() => expect(kafka.held).toHaveLength(1), { timeout: 2000 })
    kafka.held.shift()?.() // the first two are acknowledged...
    await vi.waitFor(() => expect(kafka.held).toHaveLength(1))
    expect(kafka.delivered).toHaveLength(2)
    expect(spool.deleted).toEqual([]) // ...but the segment still holds three more
    kafka.set('up')
    kafka.held.shift()?.()
    await vi.waitFor(() => expect(spool.isEmpty).toBe(true), { timeout: 2000 })
    expect(spool.deleted).toEqual([1, 2])
    expect(kafka.delivered).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(replayed.inc.mock.calls.reduce((n, [k]) => n + k, 0)).toBe(6)
    await producer.close()
  })

  it('replays a spool left from before a restart before any new click, and reports replaying meanwhile', async () => {
    const spool = new MemorySpool()
    await spool.append(payloads(1, 2))
    const kafka = switchableKafka()
    kafka.set('held')
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, spool })
    expect(producer.replaying).toBe(true)
    const fresh = producer.send(click(3), soon())
    await vi.waitFor(() => expect(kafka.held).toHaveLength(1))
    kafka.set('up')
    kafka.held.shift()?.()
    await fresh
    await vi.waitFor(() => expect(spool.isEmpty).toBe(true), { timeout: 2000 })
    expect(kafka.delivered).toEqual(ids(1, 2, 3))
    expect(producer.replaying).toBe(false)
    await producer.close()
  })

  it('keys replayed records as they were first sent (a click by ad, an event by impression), byte for byte as spooled', async () => {
    const spool = new MemorySpool()
    const value = JSON.stringify(click(7))
    const eventValue = JSON.stringify(event('JPEH3DrRpyJzpyA4sGPsjQ'))
    await spool.append([Buffer.from(value), Buffer.from(eventValue), Buffer.from('{not json')])
    const seen: { key: unknown; value: string }[] = []
    const producer = new ClickProducer(
      {
        sendBatch: async (req) => {
          for (const m of req.topicMessages?.[0]?.messages ?? [])
            seen.push({ key: m.key, value: String(m.value) })
          return []
        },
      },
      'clicks',
      { ...fast, spool },
    )
    await vi.waitFor(() => expect(spool.isEmpty).toBe(true))
    expect(seen).toEqual([
      { key: '1', value },
      { key: 'JPEH3DrRpyJzpyA4sGPsjQ', value: eventValue },
      // A record that does not parse is still sent, keyless, for the worker to dead-letter.
      { key: null, value: '{not json' },
    ])
    await producer.close()
  })

  it('sends clicks keyed by ad and events keyed by impression, in one batch', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 5, maxBatch: 10 })
    const sent = producer.sendMany([click(1), event('AAAAAAAAAAAAAAAAAAAAAA'), click(2)])
    await vi.waitFor(() => expect(kafka.batches).toHaveLength(1))
    expect(kafka.batches[0]?.keys).toEqual(['1', 'AAAAAAAAAAAAAAAAAAAAAA', '2'])
    expect(kafka.batches[0]?.values[1]).toMatchObject({ v: 2, type: 'start' })
    kafka.acks.shift()?.()
    await Promise.all(sent)
  })

  it('opens the circuit while Kafka keeps failing: then clicks go to the spool without trying Kafka', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      ...fast,
      breakerThreshold: 2,
      halfOpenAfterMs: 60_000,
      spool: new MemorySpool(),
    })
    await producer.send(click(1), soon())
    await vi.waitFor(() => expect(producer.breakerState).toBe(2), { timeout: 2000 })
    const attempts = kafka.attempts.length
    await producer.send(click(2), soon())
    await producer.flush()
    expect(kafka.attempts).toHaveLength(attempts)
    await producer.close()
  })

  it('rejects the clicks of a batch the spool has no room for, and keeps the ones it took', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const spool = new MemorySpool(2)
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, spool })
    await producer.send(click(1), soon())
    await producer.send(click(2), soon())
    await expect(producer.send(click(3), soon())).rejects.toBeInstanceOf(SpoolFullError)
    expect(spool.clickIds).toEqual(ids(1, 2))
    await producer.close()
  })

  it('refuses clicks beyond maxQueued at once instead of queueing them', async () => {
    const kafka = switchableKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      lingerMs: 60_000,
      maxBatch: 100,
      maxQueued: 2,
    })
    const queued = [producer.send(click(1)), producer.send(click(2))]
    expect(producer.saturated).toBe(true)
    await expect(producer.send(click(3))).rejects.toBeInstanceOf(QueueFullError)
    await producer.flush()
    await Promise.all(queued)
    expect(producer.saturated).toBe(false)
    expect(kafka.delivered).toEqual(ids(1, 2))
  })

  it('close() sends what is queued, then stops replaying and leaves the rest in the spool', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const spool = new MemorySpool()
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, lingerMs: 60_000, spool })
    const sent = producer.send(click(1), soon())
    await producer.close({ drainMs: 0 })
    await sent
    expect(spool.clickIds).toEqual(ids(1))
    const attempts = kafka.attempts.length
    kafka.set('up')
    await new Promise((r) => setTimeout(r, 50))
    expect(kafka.attempts).toHaveLength(attempts) // the replay loop has stopped
  })

  it('close() drains the spool to Kafka while it can within drainMs', async () => {
    const kafka = switchableKafka()
    kafka.set('down')
    const spool = new MemorySpool()
    const producer = new ClickProducer(kafka.sender, 'clicks', { ...fast, spool })
    await producer.send(click(1), soon())
    kafka.set('up')
    await producer.close({ drainMs: 10_000 })
    expect(spool.isEmpty).toBe(true)
    expect(kafka.delivered).toEqual(ids(1))
  })
})

describe('ClickProducer.sendMany', () => {
  it('queues a request’s clicks together: one Kafka batch, each promise resolved only on the ack', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 20, maxBatch: 100 })
    let done = 0
    const sent = producer.sendMany([1, 2, 3, 4].map(click)).map((p) => p.then(() => done++))
    await new Promise((r) => setTimeout(r, 40))
    expect(kafka.batches).toHaveLength(1)
    expect(kafka.batches[0]?.values.map((v) => v.click_id)).toEqual(
      [1, 2, 3, 4].map((n) => click(n).click_id),
    )
    expect(done).toBe(0)
    kafka.acks[0]?.()
    await Promise.all(sent)
    expect(done).toBe(4)
  })

  it('takes a request’s clicks whole or not at all when the queue is bounded', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      lingerMs: 1000,
      maxBatch: 100,
      maxQueued: 5,
    })
    const first = producer.sendMany([1, 2, 3].map(click))
    expect(() => producer.sendMany([4, 5, 6].map(click))).toThrow(QueueFullError)
    expect(producer.waiting).toBe(3)
    const second = producer.sendMany([4, 5].map(click))
    expect(producer.waiting).toBe(5)
    const flushed = producer.flush()
    await tick()
    kafka.acks[0]?.()
    await Promise.all([...first, ...second, flushed])
    expect(kafka.batches[0]?.values).toHaveLength(5)
  })

  it('rejects at the deadline every click of a request not yet durable', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 0, maxBatch: 100 })
    // The first batch holds the only send slot, so the request's clicks wait in the queue past it.
    const first = producer.send(click(1))
    await tick()
    const outcomes = Promise.allSettled(producer.sendMany([2, 3].map(click), performance.now() + 20))
    expect((await outcomes).map((o) => o.status === 'rejected' && o.reason)).toEqual([
      expect.any(DeadlineError),
      expect.any(DeadlineError),
    ])
    kafka.acks[0]?.()
    await first
    await producer.flush()
  })
})

describe('ClickProducer deadlines', () => {
  it('send() rejects at deadlineMs by itself, however long the click waits in the queue', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', {
      lingerMs: 1000,
      maxBatch: 100,
      deadlineMs: 30,
    })
    const started = performance.now()
    await expect(producer.send(click(1))).rejects.toBeInstanceOf(DeadlineError)
    expect(performance.now() - started).toBeLessThan(500)
    const flushed = producer.flush()
    await tick()
    kafka.acks[0]?.()
    await flushed
  })

  it('a click durable before its deadline resolves, and its timer does not fire later', async () => {
    const kafka = fakeKafka()
    const producer = new ClickProducer(kafka.sender, 'clicks', { lingerMs: 0, maxBatch: 100, deadlineMs: 50 })
    const sent = producer.send(click(1))
    await tick()
    kafka.acks[0]?.()
    await expect(sent).resolves.toBeUndefined()
    await new Promise((r) => setTimeout(r, 70))
  })
})
