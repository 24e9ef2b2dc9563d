import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import {
  type BatchContext,
  type BatchPayload,
  BREAKER_OPEN_RETRY_MS,
  handleBatch,
  storesBreaker,
} from './handle-batch.js'
import { createWorkerMetrics } from './metrics.js'
import type { BatchOutcome } from './record-clicks.js'
import { ReconcilingError, StoreUnavailableError } from './store-errors.js'

// Fakes of the kafkajs consumer callbacks only, recording what the handler asked of the consumer.
function fakeConsumer(offsets = ['10', '11', '12'], { running = true, stale = false } = {}) {
  const calls: string[] = []
  const payload: BatchPayload = {
    batch: {
      topic: 'clicks',
      partition: 3,
      messages: offsets.map((offset) => ({ offset, key: null, value: Buffer.from('{}'), timestamp: '1000' })),
      firstOffset: () => offsets[0] ?? null,
      offsetLag: () => '7',
    },
    resolveOffset: (offset) => void calls.push(`resolve ${offset}`),
    heartbeat: async () => void calls.push('heartbeat'),
    isRunning: () => running,
    isStale: () => stale,
    pause: () => {
      calls.push('pause')
      return () => void calls.push('resume')
    },
  }
  return { payload, calls }
}

const outcome = (over: Partial<BatchOutcome> = {}): BatchOutcome => ({
  lastOffset: '12',
  counted: 3,
  invalid: {},
  duplicates: 0,
  events: {},
  rejected: [],
  refused: [],
  ...over,
})

/** A context whose job answers from `results` in turn and whose clock and timers are fakes. */
function context(results: (BatchOutcome | Error)[], calls: string[]) {
  const timers: { fn: () => void; ms: number }[] = []
  const ctx: BatchContext = {
    record: async () => {
      const next = results.shift()
      if (next instanceof Error) throw next
      return next ?? null
    },
    guard: (work) => work(),
    seek: ({ partition, offset }) => void calls.push(`seek ${partition}@${offset}`),
    later: (fn, ms) => void timers.push({ fn, ms }),
    now: () => 3000,
    retryDelayMs: (attempt) => attempt * 100,
    failures: new Map(),
    metrics: createWorkerMetrics(),
    logger: pino({ level: 'silent' }),
  }
  return { ctx, timers }
}

async function metric(
  ctx: BatchContext,
  name: 'storeErrors' | 'clicks' | 'events' | 'batchFailures',
  label?: string,
) {
  const { values } = await ctx.metrics[name].get()
  return values
    .filter((v) => label === undefined || Object.values(v.labels).includes(label))
    .reduce((n, v) => n + v.value, 0)
}

describe('handleBatch', () => {
  it('commits the offset the job returns, then heartbeats', async () => {
    const { payload, calls } = fakeConsumer()
    const { ctx, timers } = context([outcome()], calls)
    expect(await handleBatch(payload, ctx)).toBe('committed')
    expect(calls).toEqual(['resolve 12', 'heartbeat'])
    expect(timers).toEqual([])
    expect(await metric(ctx, 'clicks', 'counted')).toBe(3)
  })

  it('on an unavailable store commits nothing, pauses, rewinds to the batch start and resumes after a growing backoff', async () => {
    const { payload, calls } = fakeConsumer()
    const down = new StoreUnavailableError('postgres', new Error('connect ECONNREFUSED'))
    const { ctx, timers } = context([down, down, outcome()], calls)
    expect(await handleBatch(payload, ctx)).toBe('retrying')
    expect(calls).toEqual(['pause', 'seek 3@10'])
    expect(timers.map((t) => t.ms)).toEqual([100])
    timers[0]?.fn()
    expect(calls.at(-1)).toBe('resume')
    expect(await handleBatch(payload, ctx)).toBe('retrying')
    expect(timers.map((t) => t.ms)).toEqual([100, 200])
    expect(ctx.failures.get(3)).toBe(2)
    expect(await metric(ctx, 'storeErrors', 'postgres')).toBe(2)
    expect(await metric(ctx, 'batchFailures')).toBe(2)
    calls.length = 0
    expect(await handleBatch(payload, ctx)).toBe('committed')
    expect(calls).toEqual(['resolve 12', 'heartbeat'])
    expect(ctx.failures.has(3)).toBe(false)
  })

  it('waits out a reconciliation without counting it as a store error', async () => {
    const { payload, calls } = fakeConsumer()
    const { ctx, timers } = context([new ReconcilingError(new Error('RECONCILING'))], calls)
    expect(await handleBatch(payload, ctx)).toBe('retrying')
    expect(calls).toEqual(['pause', 'seek 3@10'])
    expect(timers).toHaveLength(1)
    expect(await metric(ctx, 'storeErrors')).toBe(0)
  })

  it('commits past records a store refused and counts them by store', async () => {
    const { payload, calls } = fakeConsumer()
    const refused = {
      offset: '11',
      reason: 'postgres 22021: x',
      key: null,
      value: null,
      store: 'postgres' as const,
      click: true,
    }
    const refusedEvent = { ...refused, offset: '12', click: false, event: 'midpoint' as const }
    const { ctx } = context(
      [outcome({ counted: 2, refused: [refused, refusedEvent], events: { midpoint: { refused: 1 } } })],
      calls,
    )
    expect(await handleBatch(payload, ctx)).toBe('committed')
    expect(calls).toEqual(['resolve 12', 'heartbeat'])
    expect(await metric(ctx, 'storeErrors', 'postgres')).toBe(2)
    expect(await metric(ctx, 'clicks', 'refused')).toBe(1)
    expect(await metric(ctx, 'events', 'refused')).toBe(1)
  })

  it('counts event records by type and outcome', async () => {
    const { payload, calls } = fakeConsumer()
    const events = { impression: { counted: 2, invalid: 1 }, complete: { duplicate: 3 } }
    const { ctx } = context([outcome({ events })], calls)
    expect(await handleBatch(payload, ctx)).toBe('committed')
    const { values } = await ctx.metrics.events.get()
    // (Every outcome of impression is exported at zero from the start.)
    const counted = values.filter((v) => v.value > 0)
    expect(counted.map((v) => [v.labels.type, v.labels.outcome, v.value]).sort()).toEqual([
      ['complete', 'duplicate', 3],
      ['impression', 'counted', 2],
      ['impression', 'invalid', 1],
    ])
  })

  it('does nothing with a batch that is empty, stale or arrives while stopping', async () => {
    for (const [offsets, flags] of [
      [[], {}],
      [['1'], { stale: true }],
      [['1'], { running: false }],
    ] as const) {
      const { payload, calls } = fakeConsumer([...offsets], flags)
      const { ctx } = context([outcome()], calls)
      expect(await handleBatch(payload, ctx)).toBe('skipped')
      expect(calls).toEqual([])
    }
  })

  it('behind the stores breaker: five failures open it, then partitions wait its half-open delay; reconciling never opens it', async () => {
    const { payload, calls } = fakeConsumer()
    const down = new StoreUnavailableError('redis', new Error('Connection is closed.'))
    const breaker = storesBreaker()
    const reconciling = context(Array(8).fill(new ReconcilingError(new Error('RECONCILING'))), calls)
    reconciling.ctx.guard = (work) => breaker.execute(work)
    for (let i = 0; i < 8; i++) await handleBatch(payload, reconciling.ctx)
    expect(reconciling.timers.every((t) => t.ms !== BREAKER_OPEN_RETRY_MS)).toBe(true)
    const { ctx, timers } = context(Array(6).fill(down), calls)
    ctx.guard = (work) => breaker.execute(work)
    for (let i = 0; i < 6; i++) await handleBatch(payload, ctx)
    expect(timers.map((t) => t.ms)).toEqual([100, 200, 300, 400, 500, BREAKER_OPEN_RETRY_MS])
    expect(calls.filter((c) => c.startsWith('resolve'))).toEqual([])
  })
})
