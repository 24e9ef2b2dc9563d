import type { FastifyInstance } from 'fastify'
import { describe, expect, it, vi } from 'vitest'
import type { AdCatalog } from './ad-catalog.js'
import type { BatchSender } from './click-producer.js'
import { Spool } from './spool.js'
import { type SpoolIngestOptions, spoolIngests } from './testing/spool-ingest.js'

// The HTTP side of durability and load shedding, with a fake Kafka (sendBatch) and a real spool in a
// temporary directory; nothing listens on the network.

const ingests = spoolIngests('ingest-app-test-')

const catalog = { accepts: () => true, age: 0, size: 1 } as unknown as AdCatalog

function kafka(mode: 'up' | 'down') {
  const sent: string[] = []
  const sender: BatchSender = {
    sendBatch: vi.fn(async (req) => {
      if (mode === 'down') throw new Error('connect ECONNREFUSED')
      for (const m of req.topicMessages?.[0]?.messages ?? []) sent.push(JSON.parse(String(m.value)).click_id)
      return []
    }),
  }
  return { sender, sent }
}

const setup = (opts: Omit<SpoolIngestOptions, 'catalog'>) => ingests.setup({ catalog, ...opts })

const click = (app: FastifyInstance, clickId: string) =>
  app.inject({
    method: 'POST',
    url: '/ads/click',
    payload: { ad_id: 'ad-1', playback_time: 3, click_id: clickId },
  })

function expect503(res: Awaited<ReturnType<typeof click>>, code: string, retryAfter: string) {
  expect(res.statusCode).toBe(503)
  expect(res.headers['retry-after']).toBe(retryAfter)
  expect(res.headers['content-type']).toMatch(/application\/json/)
  expect(res.json()).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    message: expect.any(String),
    code,
  })
}

describe('POST /ads/click when Kafka cannot take the click', () => {
  it('answers 202 once the click is in the spool', async () => {
    const { app, spool } = await setup({ sender: kafka('down').sender })
    const res = await click(app, 'spooled-click-1')
    expect(res.statusCode).toBe(202)
    expect(res.json()).toEqual({ status: 'Click recorded', click_id: 'spooled-click-1' })
    const segment = await spool.nextSegment()
    expect(segment?.records.map((r) => JSON.parse(r.toString()).click_id)).toEqual(['spooled-click-1'])
  })

  it('answers 503 SPOOL_FULL with Retry-After when the spool has no room, and spools nothing', async () => {
    const { app, spool, metrics } = await setup({ sender: kafka('down').sender, spoolMaxBytes: 100 })
    const res = await click(app, 'no-room-click-1')
    expect503(res, 'SPOOL_FULL', '5')
    expect(spool.records).toBe(0)
    expect(await metrics.registry.getSingleMetricAsString('clicks_refused_total')).toMatch(
      /reason="spool_full"[^\n]* 1/,
    )
  })
})

describe('load shedding', () => {
  it('refuses clicks with 503 OVERLOADED once the producer queue is full, before reading the body', async () => {
    const { sender, sent } = kafka('up')
    const { app, producer } = await setup({ sender, producer: { maxQueued: 1, lingerMs: 60_000 } })
    const first = click(app, 'queued-click-1') // waits in the queue for the (long) linger
    await vi.waitFor(() => expect(producer.waiting).toBe(1))
    const second = await app.inject({ method: 'POST', url: '/ads/click', payload: '{not even json' })
    expect503(second, 'OVERLOADED', '1')
    // The probes are not shed.
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    await producer.flush()
    expect((await first).statusCode).toBe(202)
    expect(sent).toEqual(['queued-click-1'])
  })

  it('refuses clicks with 503 OVERLOADED under memory pressure, never reaching Kafka; probes still answer', async () => {
    const { sender, sent } = kafka('up')
    const { app } = await setup({ sender, env: { MAX_HEAP_USED_BYTES: '1' }, pressureSampleMs: 10 })
    // Until the first sample, heap use reads 0: clicks pass. Then every click is shed.
    let n = 0
    const res = await vi.waitFor(
      async () => {
        const r = await click(app, `pressured-click-${++n}`)
        expect(r.statusCode).toBe(503)
        return r
      },
      { timeout: 3000 },
    )
    expect503(res, 'OVERLOADED', '1')
    await new Promise((r) => setTimeout(r, 20))
    expect(sent).not.toContain(`pressured-click-${n}`)
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
  })
})

describe('GET /readyz with a spool', () => {
  /** A Kafka that refuses (down), or takes each batch only when the test releases it (held). */
  function heldKafka(initial: 'down' | 'held') {
    const state = { mode: initial as 'down' | 'held', held: [] as Array<() => void>, sent: [] as string[] }
    const sender: BatchSender = {
      sendBatch: async (req) => {
        if (state.mode === 'down') throw new Error('connect ECONNREFUSED')
        await new Promise<void>((resolve) => state.held.push(resolve))
        for (const m of req.topicMessages?.[0]?.messages ?? [])
          state.sent.push(JSON.parse(String(m.value)).click_id)
        return []
      },
    }
    return { state, sender }
  }

  it('is not ready only while its spool is past the high-water mark and Kafka is not taking the backlog', async () => {
    const kafka = heldKafka('down')
    const { app, spool } = await setup({
      sender: kafka.sender,
      spoolMaxBytes: 25_000,
      highWaterPercent: 1, // 250 bytes: one click (some 170 bytes) is below it, three are above
      producer: { halfOpenAfterMs: 10, maxBatch: 1 },
    })
    expect((await click(app, 'below-the-mark-1')).statusCode).toBe(202)
    // Kafka down, and room in the spool: ready (Kafka being down is every pod's position).
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    for (const id of ['over-the-mark-2', 'over-the-mark-3'])
      expect((await click(app, id)).statusCode).toBe(202)
    const full = await app.inject({ url: '/readyz' })
    expect(full.statusCode).toBe(503)
    expect(full.json().checks.spool).toMatch(/nearly full .* Kafka is not taking its backlog/)
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200)

    // Kafka back: once it acknowledges the first replayed batch the pod is ready, though still above the mark.
    kafka.state.mode = 'held'
    await vi.waitFor(() => expect(kafka.state.held).toHaveLength(1), { timeout: 3000 })
    kafka.state.held.shift()?.()
    await vi.waitFor(() => expect(kafka.state.held).toHaveLength(1))
    expect(spool.bytes).toBeGreaterThan(250)
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    // A click taken meanwhile queues behind the backlog and reaches Kafka after it.
    const during = click(app, 'during-the-replay-4')
    await vi.waitFor(() => expect(spool.records).toBeGreaterThanOrEqual(3))
    while (!spool.isEmpty || kafka.state.held.length > 0) {
      kafka.state.held.shift()?.()
      await new Promise((r) => setTimeout(r, 5))
    }
    expect((await during).statusCode).toBe(202)
    expect(kafka.state.sent).toEqual([
      'below-the-mark-1',
      'over-the-mark-2',
      'over-the-mark-3',
      'during-the-replay-4',
    ])
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
  })

  it('stays ready while replaying a spool left from before a restart; new clicks queue behind it', async () => {
    const earlier = await Spool.open({ dir: ingests.dir, maxBytes: 1 << 20 })
    await earlier.append([Buffer.from(JSON.stringify({ click_id: 'from-last-run', ad_id: 'ad-1' }))])
    await earlier.close()
    const kafka = heldKafka('held')
    const { app, spool } = await setup({ sender: kafka.sender })
    await vi.waitFor(() => expect(kafka.state.held).toHaveLength(1))
    const replaying = await app.inject({ url: '/readyz' })
    expect(replaying.statusCode, replaying.body).toBe(200)
    const during = click(app, 'after-the-restart')
    await vi.waitFor(() => expect(spool.records).toBe(2))
    while (!spool.isEmpty || kafka.state.held.length > 0) {
      kafka.state.held.shift()?.()
      await new Promise((r) => setTimeout(r, 5))
    }
    expect((await during).statusCode).toBe(202)
    expect(kafka.state.sent).toEqual(['from-last-run', 'after-the-restart'])
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
  })
})
