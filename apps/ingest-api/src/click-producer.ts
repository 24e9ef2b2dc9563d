// NOTE: over 300 lines on purpose: batching, the spool fallback and the replay loop share one queue and
// one circuit breaker, and the ordering guarantee (the class comment) holds only read together.
import { setTimeout as sleep } from 'node:timers/promises'
import { type TrackingMessage, trackingMessageKey } from '@adtrack/contracts'
import type { Message, ProducerBatch } from 'kafkajs'
import type { Logger } from 'pino'
import type { Counter, Histogram } from 'prom-client'
import { type BatchSender, type BreakerGaugeValue, KafkaGate, type KafkaGateOptions } from './kafka-gate.js'

export type { BatchSender }

/** What the producer needs of the spool: Spool (spool.ts) on disk, or an in-memory stand-in in tests. */
export interface ClickSpool {
  /** True when nothing is spooled and no append is under way. */
  readonly isEmpty: boolean
  append(payloads: Buffer[]): Promise<void>
  nextSegment(): Promise<{ id: number; records: Buffer[] } | undefined>
  deleteSegment(id: number): Promise<void>
  onAppend(listener: () => void): () => void
}

/** The producer already holds as many clicks as it may; the caller should shed load. */
export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`${limit} clicks already wait for Kafka`)
    this.name = 'QueueFullError'
  }
}

/** A click was not durable (in Kafka or the spool) by its deadline; it may still become so later. */
export class DeadlineError extends Error {
  constructor(message = 'click not durable (in Kafka or the spool) before its deadline') {
    super(message)
    this.name = 'DeadlineError'
  }
}

/** A signal that aborts with DeadlineError at `deadline` (a performance.now() instant); none if infinite. */
export function deadlineSignal(deadline: number, message?: string): AbortSignal | undefined {
  if (!Number.isFinite(deadline)) return undefined
  const controller = new AbortController()
  const ms = deadline - performance.now()
  if (ms <= 0) controller.abort(new DeadlineError(message))
  else setTimeout(() => controller.abort(new DeadlineError(message)), ms).unref()
  return controller.signal
}

export interface ClickProducerOptions extends KafkaGateOptions {
  lingerMs: number
  maxBatch: number
  /**
   * How long send() and sendMany() wait for a click to be durable (WRITE_TIMEOUT) before rejecting with
   * DeadlineError, unless the caller gives a deadline; no limit when unset.
   */
  deadlineMs?: number
  /**
   * Kafka batches that may be awaiting their acknowledgement at once (default 1). More lets the next
   * batch go while the previous one's round trip is under way.
   */
  maxInFlight?: number
  /** Clicks that may wait for the next batch; send() refuses more with QueueFullError. */
  maxQueued?: number
  /**
   * Where clicks go when Kafka does not acknowledge them in time or the circuit is open, and every click
   * while it holds anything, so that nothing overtakes the backlog. Without one, such clicks are rejected.
   */
  spool?: ClickSpool
  /** Kept back from a batch's deadline for writing it to the spool if Kafka has not acknowledged it. */
  spoolReserveMs?: number
  /** How long one replayed batch may wait for Kafka's acknowledgement before it is tried again. */
  replayTimeoutMs?: number
  produceSeconds?: Histogram<'outcome'>
  spooledClicks?: Counter
  replayedClicks?: Counter
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>
}

interface Pending {
  message: TrackingMessage
  /** The Kafka record value, exactly as sent and as spooled. */
  value: string
  /** performance.now() instant by which the caller needs an answer. */
  deadline: number
  resolve: () => void
  reject: (err: Error) => void
}

/**
 * Carries everything the clicks topic takes: clicks (version 1) and video events (version 2); "click"
 * below stands for either.
 * Collects clicks for up to `lingerMs` (or until `maxBatch` are waiting) and sends them to Kafka in one
 * sendBatch, resolving each click's promise only once the click is durable: acknowledged by Kafka (all
 * in-sync replicas) or, when Kafka cannot take it in time, fsync'd in the local spool.
 * NOTE: kafkajs has no linger of its own; without this, every click would be its own produce request.
 * Up to `maxInFlight` batches await Kafka at once; a batch starts when the linger ends, when `maxBatch`
 * clicks wait, or as soon as a send slot frees up if clicks are waiting.
 * TRICKY: while the spool holds anything every new batch is appended to it instead of sent: the replay
 * loop alone sends, oldest first, so the backlog is not overtaken by clicks accepted after it. With one
 * batch in flight that keeps the accepted order exactly; with more, only the batches already in flight
 * when Kafka started failing (at most maxInFlight - 1) can reach Kafka before an earlier batch that went
 * to the spool. Order does not affect counting (the worker dedups by click_id and judges repeats by
 * receive time against Postgres), only which of two near-simultaneous clicks a rule sees first.
 */
export class ClickProducer {
  private queue: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  /** Batches awaiting Kafka or the spool. */
  private readonly sending = new Set<Promise<void>>()
  private readonly maxInFlight: number
  private readonly gate: KafkaGate
  private readonly replayAbort = new AbortController()
  private replayLoop: Promise<void> | undefined
  private replayingNow = false
  private wake: (() => void) | undefined
  private spooling = false

  constructor(
    sender: BatchSender,
    private readonly topic: string,
    private readonly opts: ClickProducerOptions,
  ) {
    this.gate = new KafkaGate(sender, opts)
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1)
    const spool = opts.spool
    if (spool) {
      spool.onAppend(() => this.wake?.())
      this.replayAbort.signal.addEventListener('abort', () => this.wake?.(), { once: true })
      // A spool left over from before a restart is replayed before anything else reaches Kafka.
      this.replayingNow = !spool.isEmpty
      this.replayLoop = this.replay(spool, this.replayAbort.signal)
    }
  }

  /**
   * Resolves once the click is durable (see the class comment). Rejects with QueueFullError at once when
   * the queue is full, with DeadlineError if it is not durable by `deadline` (a performance.now() instant;
   * by default deadlineMs from now), or with the spool's error if it could not be spooled.
   * NOTE: a click rejected at its deadline is not withdrawn: it may still reach Kafka or the spool. The
   * client's retry with the same click_id is then counted once; what must never happen is a resolve for
   * a click that is not durable.
   */
  send(message: TrackingMessage, deadline = this.defaultDeadline()): Promise<void> {
    if (this.saturated) return Promise.reject(new QueueFullError(this.opts.maxQueued ?? 0))
    const [sent] = this.enqueue([message], deadline)
    return sent as Promise<void>
  }

  /**
   * Queues several clicks at once, so that they share Kafka batches (and a spool append), and returns one
   * promise per click, settled as send()'s would be. Refuses all of them with QueueFullError (thrown)
   * when they do not all fit in the queue: a request's clicks are taken whole or not at all.
   */
  sendMany(messages: TrackingMessage[], deadline = this.defaultDeadline()): Promise<void>[] {
    const limit = this.opts.maxQueued
    if (limit !== undefined && this.queue.length + messages.length > limit) throw new QueueFullError(limit)
    return this.enqueue(messages, deadline)
  }

  private defaultDeadline(): number {
    return this.opts.deadlineMs === undefined
      ? Number.POSITIVE_INFINITY
      : performance.now() + this.opts.deadlineMs
  }

  /** Queues the clicks with one timer that rejects whichever are not yet durable at the deadline. */
  private enqueue(messages: TrackingMessage[], deadline: number): Promise<void>[] {
    const queued: Pending[] = []
    const promises = messages.map(
      (message) =>
        new Promise<void>((resolve, reject) => {
          queued.push({ message, value: JSON.stringify(message), deadline, resolve, reject })
        }),
    )
    this.queue.push(...queued)
    if (Number.isFinite(deadline) && queued.length > 0) {
      const timer = setTimeout(
        () => {
          for (const p of queued) p.reject(new DeadlineError())
        },
        Math.max(0, deadline - performance.now()),
      )
      void Promise.allSettled(promises).then(() => clearTimeout(timer))
    }
    if (this.queue.length >= this.opts.maxBatch) this.flushSoon(0)
    else if (queued.length > 0) this.flushSoon(this.opts.lingerMs)
    return promises
  }

  get waiting(): number {
    return this.queue.length
  }

  /** True while the queue is at its bound: new clicks would be refused. */
  get saturated(): boolean {
    return this.opts.maxQueued !== undefined && this.queue.length >= this.opts.maxQueued
  }

  /** The circuit breaker around Kafka sends: 0 closed, 1 half-open, 2 open. */
  get breakerState(): BreakerGaugeValue {
    return this.gate.state
  }

  /** True while spooled clicks are being re-sent to Kafka (not while Kafka is still unreachable). */
  get replaying(): boolean {
    return this.replayingNow && this.opts.spool?.isEmpty === false
  }

  /** Sends whatever is queued and waits for every send under way. */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    for (;;) {
      this.pump()
      if (this.sending.size === 0) return
      await Promise.race(this.sending)
    }
  }

  /**
   * Flushes the queue, lets the replay loop drain the spool for up to `drainMs` (so that as little as
   * possible waits on this disk for the next start), then stops it. What is still spooled stays on disk.
   */
  async close({ drainMs = 0 }: { drainMs?: number } = {}): Promise<void> {
    await this.flush()
    const spool = this.opts.spool
    const until = performance.now() + drainMs
    while (spool && !spool.isEmpty && performance.now() < until) await sleep(50)
    this.replayAbort.abort()
    await this.replayLoop
  }

  private flushSoon(delayMs: number): void {
    if (this.sending.size >= this.maxInFlight) return // a finishing send picks the queue up
    if (delayMs === 0) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.pump()
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        this.pump()
      }, delayMs)
    }
  }

  /** Starts batches from the queue while send slots are free; each finished send starts the next. */
  private pump(): void {
    while (this.queue.length > 0 && this.sending.size < this.maxInFlight) {
      const batch = this.queue.splice(0, this.opts.maxBatch)
      const sent: Promise<void> = this.sendBatch(batch)
        // sendBatch settles every click itself; this is only a guard against a bug leaving one hanging.
        .catch((err: Error) => {
          for (const p of batch) p.reject(err)
        })
        .finally(() => {
          this.sending.delete(sent)
          this.pump()
        })
      this.sending.add(sent)
    }
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    const spool = this.opts.spool
    if (spool && !spool.isEmpty) return this.toSpool(spool, batch)
    let deadline = Number.POSITIVE_INFINITY
    for (const p of batch) deadline = Math.min(deadline, p.deadline)
    if (spool) deadline -= this.opts.spoolReserveMs ?? 0
    const stopTimer = this.opts.produceSeconds?.startTimer()
    try {
      await this.gate.send(
        this.kafkaBatch(batch.map((p) => ({ key: trackingMessageKey(p.message), value: p.value }))),
        deadlineSignal(deadline, 'no acknowledgement from Kafka before the deadline'),
      )
      stopTimer?.({ outcome: 'ok' })
      if (this.spooling) {
        this.spooling = false
        this.opts.logger?.info('Kafka acknowledges again; clicks go straight to Kafka')
      }
      for (const p of batch) p.resolve()
    } catch (err) {
      stopTimer?.({ outcome: 'error' })
      if (!spool) {
        for (const p of batch) p.reject(err as Error)
        return
      }
      if (!this.spooling) {
        this.spooling = true
        this.opts.logger?.warn({ err }, 'Kafka did not acknowledge; spooling clicks to local disk')
      }
      await this.toSpool(spool, batch)
    }
  }

  private async toSpool(spool: ClickSpool, batch: Pending[]): Promise<void> {
    try {
      await spool.append(batch.map((p) => Buffer.from(p.value)))
    } catch (err) {
      for (const p of batch) p.reject(err as Error)
      return
    }
    this.opts.spooledClicks?.inc(batch.length)
    for (const p of batch) p.resolve()
  }

  private kafkaBatch(messages: Message[]): ProducerBatch {
    return { acks: -1, topicMessages: [{ topic: this.topic, messages }] }
  }

  /**
   * Re-sends the spool to Kafka, oldest segment first, batch by batch, and deletes a segment only once
   * Kafka has acknowledged all of it. A crash in between sends part of a segment again: the worker counts
   * a click once by click_id. While Kafka fails, the same batch is retried with jittered backoff; the
   * circuit breaker makes those retries cheap until it lets a trial send through (half-open).
   */
  private async replay(spool: ClickSpool, signal: AbortSignal): Promise<void> {
    const maxDelay = Math.max(100, this.opts.halfOpenAfterMs ?? 5000)
    let failures = 0
    const pause = async () => {
      failures++
      const delay = Math.min(maxDelay, 50 * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2)
      await sleep(delay, undefined, { signal }).catch(() => undefined)
    }
    while (!signal.aborted) {
      if (spool.isEmpty) {
        if (this.replayingNow) this.opts.logger?.info('spool replayed; clicks go straight to Kafka')
        this.replayingNow = false
        await new Promise<void>((resolve) => {
          this.wake = resolve
          if (!spool.isEmpty || signal.aborted) resolve()
        })
        this.wake = undefined
        continue
      }
      try {
        const segment = await spool.nextSegment()
        if (!segment) continue
        const messages = segment.records.map((value) => ({ key: keyOf(value), value }))
        let offset = 0
        while (offset < messages.length && !signal.aborted) {
          const chunk = messages.slice(offset, offset + this.opts.maxBatch)
          try {
            const timeout = AbortSignal.timeout(this.opts.replayTimeoutMs ?? 10_000)
            await this.gate.send(this.kafkaBatch(chunk), AbortSignal.any([signal, timeout]))
          } catch {
            if (signal.aborted) break
            this.replayingNow = false
            await pause()
            continue
          }
          if (!this.replayingNow) {
            this.replayingNow = true
            this.opts.logger?.info('Kafka reachable: replaying the spool')
          }
          failures = 0
          offset += chunk.length
          this.opts.replayedClicks?.inc(chunk.length)
        }
        if (offset < messages.length) break // stopped: the segment stays and is replayed next time
        await spool.deleteSegment(segment.id)
      } catch (err) {
        this.opts.logger?.error({ err }, 'spool replay failed; retrying')
        await pause()
      }
    }
  }
}

/**
 * The record key of a spooled message, as when it was first sent: a click's ad id, an event's impression
 * id (contracts' trackingMessageKey). A record that does not parse (it passed its CRC, so this should not
 * happen) is still sent, without a key, for the worker to judge.
 */
export function keyOf(value: Buffer): string | null {
  try {
    return trackingMessageKey(JSON.parse(value.toString('utf8')) as TrackingMessage) ?? null
  } catch {
    return null
  }
}
