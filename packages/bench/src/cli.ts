#!/usr/bin/env node
// npm run bench: starts its own Kafka, Postgres and Redis (temporary directory, free ports) and the three
// built services as processes, drives them with the load generator, and prints a table in which every
// figure stands next to a baseline measured in the same run. Writes bench-results/bench-<time>.{json,md}
// and bench-results/latest.md. Bounded: each phase has a duration, each wait a timeout.
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createSql, migrate, seedDemoAds } from '@adtrack/db'
import { DEMO_ADS, Histogram, type LoadSummary, loadDefaults, runLoad, Traffic } from '@adtrack/loadgen'
import { freePort, startStack } from '@adtrack/local-stack'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { Pool } from 'undici'
import { peakRssMiB, type Service, startProcess } from './processes.js'
import { fmt, markdownTable, type Row } from './report.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'ceiling-connections': { type: 'string', default: '32,256' },
    'drain-clicks': { type: 'string', default: '200000' },
    'e2e-rate': { type: 'string', default: '10000' },
    'batch-rate': { type: 'string', default: '50000' },
    'batch-size': { type: 'string', default: '100' },
    'read-rate': { type: 'string', default: '100' },
    out: { type: 'string', default: join(root, 'bench-results') },
    'cpu-prof': { type: 'boolean' },
    help: { type: 'boolean' },
  },
})
if (args.help) {
  process.stdout.write(`npm run bench -- [--seconds 10] [--connections 32] [--ceiling-connections 32,256]
  [--drain-clicks 200000]
  [--e2e-rate 10000] [--batch-rate 50000] [--batch-size 100] [--read-rate 100] [--out bench-results]
  [--cpu-prof]   (the services write V8 CPU profiles to <out>/profiles/ when they stop)
`)
  process.exit(0)
}
const seconds = Number(args.seconds)
const connections = Number(args.connections)
const ceilingConnections = args['ceiling-connections']
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const drainClicks = Number(args['drain-clicks'])
const e2eRate = Number(args['e2e-rate'])
const batchRate = Number(args['batch-rate'])
const batchSize = Number(args['batch-size'])
const readRate = Number(args['read-rate'])
const profArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(args.out, 'profiles')}`] : []
const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)
const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())

const TOPIC = 'ad-clicks'
const dataDir = await mkdtemp(join(tmpdir(), 'adtrack-bench-'))
const services: Service[] = []
const results: Record<string, unknown> = {}
const rows: Row[] = []
let stack: Awaited<ReturnType<typeof startStack>> | undefined
let sql: ReturnType<typeof createSql> | undefined

/** Every acknowledged click of every phase, so that the worker's progress can be checked against it. */
let acknowledgedTotal = 0

try {
  say(`stack in ${dataDir}`)
  stack = await startStack({
    dataDir,
    ports: {
      postgres: await freePort(),
      redis: await freePort(),
      kafka: await freePort(),
      kafkaController: await freePort(),
    },
    log: (m) => say(m),
  })
  const db = createSql(stack.postgres.url, { max: 4 })
  sql = db
  await migrate(db)
  await seedDemoAds(db)
  const common = {
    DATABASE_URL: stack.postgres.url,
    REDIS_URL: stack.redis.url,
    KAFKA_BROKERS: stack.kafka.brokers.join(','),
    KAFKA_TOPIC: TOPIC,
    // Request logs at info would cost every request a JSON line; production runs would ship them.
    LOG_LEVEL: 'warn',
  }
  const kafka = new Kafka({ clientId: 'bench', brokers: stack.kafka.brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 12, replicationFactor: 1 }] })
  await admin.disconnect()

  // (c) Worker drain vs COPY: N clicks on the topic before the worker starts.
  say(`(c) producing ${drainClicks} clicks to the topic`)
  const traffic = new Traffic(DEMO_ADS, {
    zipf: 1.1,
    viewers: 100_000,
    botShare: 0.01,
    repeatShare: 0.02,
    seed: 7,
  })
  const receivedAt = new Date().toISOString()
  const messages = Array.from({ length: drainClicks }, (_, i) => {
    const c = traffic.click()
    return {
      v: 1,
      ...c,
      received_at: receivedAt,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      user_agent: traffic.userAgent(),
    }
  })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  for (let i = 0; i < messages.length; i += 8000) {
    const chunks = []
    for (let j = i; j < Math.min(i + 8000, messages.length); j += 2000) {
      chunks.push(
        producer.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic: TOPIC,
              messages: messages.slice(j, j + 2000).map((m) => ({ key: m.ad_id, value: JSON.stringify(m) })),
            },
          ],
        }),
      )
    }
    await Promise.all(chunks)
  }
  await producer.disconnect()
  const workerMetrics = await freePort()
  const workerStart = performance.now()
  const worker = await startProcess(
    'click-worker',
    join(root, 'apps/click-worker/dist/server.js'),
    { ...common, METRICS_PORT: String(workerMetrics) },
    `http://127.0.0.1:${workerMetrics}/readyz`,
    root,
    profArgs,
  )
  services.push(worker)
  const countClicks = async () => Number((await db`select count(*)::int as n from clicks`)[0]?.n ?? 0)
  let firstRowAt: number | undefined
  let drainedAt: number | undefined
  const drainUntil = performance.now() + Math.max(180_000, drainClicks / 2)
  while (performance.now() < drainUntil && !stop.signal.aborted) {
    const n = await countClicks()
    if (n > 0) firstRowAt ??= performance.now()
    if (n >= drainClicks) {
      drainedAt = performance.now()
      break
    }
    await sleep(200)
  }
  const drained = await countClicks()
  const drainSeconds = ((drainedAt ?? performance.now()) - (firstRowAt ?? workerStart)) / 1000
  const workerRate = drained / drainSeconds
  say(`(c) worker stored ${drained} clicks in ${drainSeconds.toFixed(1)} s (${Math.round(workerRate)}/s)`)

  // The baseline: the same rows into a table like clicks (same keys and indexes) with COPY alone.
  await db`create table clicks_copy (like clicks including all)`
  const tsv = (s: string) =>
    s.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch] as string)
  const lines: string[] = []
  for (let i = 0; i < messages.length; i += 1000) {
    lines.push(
      messages
        .slice(i, i + 1000)
        .map(
          (m, k) =>
            `${m.click_id}\t${m.ad_id}\t${m.playback_time}\t${m.received_at}\t${m.ip}\t${tsv(m.user_agent)}\t${(i + k) % 12}\t${i + k}\t${m.viewer_id}\t\\N\n`,
        )
        .join(''),
    )
  }
  const copyStart = performance.now()
  const writable =
    await sql`copy clicks_copy (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset, viewer_id, invalid_reason) from stdin`.writable()
  await pipeline(Readable.from(lines), writable)
  const copySeconds = (performance.now() - copyStart) / 1000
  const copyRate = drainClicks / copySeconds
  await db`drop table clicks_copy`
  say(`(c) COPY loaded ${drainClicks} rows in ${copySeconds.toFixed(1)} s (${Math.round(copyRate)}/s)`)
  results.drain = { clicks: drainClicks, drained, drainSeconds, workerRate, copySeconds, copyRate }
  rows.push({
    measure: `(c) worker drain, ${drainClicks.toLocaleString('en-US')} clicks`,
    result: `${fmt.rate(workerRate)} (${drainSeconds.toFixed(1)} s)`,
    baseline: `COPY alone ${fmt.rate(copyRate)} (${copySeconds.toFixed(1)} s)`,
    ratio: fmt.ratio(workerRate, copyRate),
    target: '>= 0.5',
    met: drained >= drainClicks && workerRate / copyRate >= 0.5 ? 'yes' : 'no',
  })
  acknowledgedTotal += drainClicks

  // The APIs and the bare baseline server.
  const [ingestPort, ingestMetrics, analyticsPort, analyticsMetrics, barePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const ingest = await startProcess(
    'ingest-api',
    join(root, 'apps/ingest-api/dist/server.js'),
    {
      ...common,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(ingestPort),
      METRICS_PORT: String(ingestMetrics),
      SPOOL_DIR: join(dataDir, 'spool'),
      // The load comes from one address; the per-IP limit would refuse it.
      RATE_LIMIT_MAX: '0',
    },
    `http://127.0.0.1:${ingestMetrics}/readyz`,
    root,
    profArgs,
  )
  services.push(ingest)
  const analytics = await startProcess(
    'analytics-api',
    join(root, 'apps/analytics-api/dist/server.js'),
    {
      ...common,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(analyticsPort),
      METRICS_PORT: String(analyticsMetrics),
    },
    `http://127.0.0.1:${analyticsMetrics}/readyz`,
    root,
    profArgs,
  )
  services.push(analytics)
  const bare = await startProcess(
    'bare-fastify',
    join(root, 'packages/bench/dist/bare-server.js'),
    { HTTP_PORT: String(barePort) },
    `http://127.0.0.1:${barePort}/livez`,
    root,
  )
  services.push(bare)
  const ingestUrl = `http://127.0.0.1:${ingestPort}`
  const analyticsUrl = `http://127.0.0.1:${analyticsPort}`
  const load = (
    over: Partial<Parameters<typeof loadDefaults>[0]>,
    onAck?: (ids: string[], at: number) => void,
    clicksReachKafka = true,
  ) =>
    runLoad(
      loadDefaults({
        url: ingestUrl,
        connections,
        ads: DEMO_ADS,
        retryShare: 0,
        durationMs: seconds * 1000,
        ...over,
      }),
      {
        signal: stop.signal,
        onAck: (ids, at) => {
          if (clicksReachKafka) acknowledgedTotal += ids.length
          onAck?.(ids, at)
        },
        onProgress: (p) =>
          say(
            `  ${p.second}s ${Math.round(p.clicksPerSecond)} clicks/s p99 ${p.p99.toFixed(1)} ms ${JSON.stringify(p.statuses)}`,
          ),
      },
    )

  // (a) Ingest ceiling: flat out, single clicks, same connections and duration as the bare server. The
  // worker is paused (SIGSTOP) meanwhile so that it does not take CPU from the two being compared.
  // The ceiling depends on concurrency: ingest-api answers only once Kafka has acknowledged, so with few
  // connections it is bound by that wait (Little's law), with many by CPU. Measured at each count given.
  const ceilings: Record<string, { ingest: LoadSummary; bare: LoadSummary }> = {}
  for (const conns of ceilingConnections) {
    say(`(a) ingest ceiling at ${conns} connections: warm-up`)
    worker.process.kill('SIGSTOP')
    let ceiling: LoadSummary
    let bareSummary: LoadSummary
    try {
      await load({ durationMs: 2000, connections: conns })
      say(`(a) ingest-api POST /ads/click, flat out, ${conns} connections`)
      ceiling = await load({ connections: conns })
      await load(
        { url: `http://127.0.0.1:${barePort}`, durationMs: 2000, connections: conns },
        undefined,
        false,
      )
      say(`(a) bare Fastify POST /ads/click, flat out, ${conns} connections`)
      bareSummary = await load({ url: `http://127.0.0.1:${barePort}`, connections: conns }, undefined, false)
    } finally {
      worker.process.kill('SIGCONT')
    }
    ceilings[conns] = { ingest: ceiling, bare: bareSummary }
    rows.push({
      measure: `(a) ingest ceiling, single clicks, ${conns} conns`,
      result: `${fmt.rate(ceiling.clicksPerSecond)}, p50 ${fmt.ms(ceiling.latencyMs.p50)}, p99 ${fmt.ms(ceiling.latencyMs.p99)}`,
      baseline: `bare Fastify ${fmt.rate(bareSummary.clicksPerSecond)}, p50 ${fmt.ms(bareSummary.latencyMs.p50)}, p99 ${fmt.ms(bareSummary.latencyMs.p99)}`,
      ratio: fmt.ratio(ceiling.clicksPerSecond, bareSummary.clicksPerSecond),
      target: '>= 0.5',
      met: ceiling.clicksPerSecond / bareSummary.clicksPerSecond >= 0.5 ? 'yes' : 'no',
    })
  }
  results.ingestCeiling = ceilings
  const waitForWorker = async (what: string) => {
    const until = performance.now() + 180_000
    while (performance.now() < until && !stop.signal.aborted) {
      if ((await countClicks()) >= acknowledgedTotal) return true
      await sleep(500)
    }
    say(`${what}: the worker had not caught up after 180 s`)
    return false
  }
  say('waiting for the worker to catch up')
  await waitForWorker('after (a)')

  // (b) End to end at a sustained rate: delivery delay from the 2xx to the click being counted in
  // GET /ads/analytics, and (d) reads at a fixed rate meanwhile.
  const analyticsPool = new Pool(analyticsUrl, { connections: 8 })
  const visibleTotal = async () => {
    const replies = await Promise.all(
      DEMO_ADS.map(async (id) => {
        const res = await analyticsPool.request({ method: 'GET', path: `/ads/analytics?ad_id=${id}` })
        const body = (await res.body.json()) as { click_count?: number; invalid_click_count?: number }
        return (body.click_count ?? 0) + (body.invalid_click_count ?? 0)
      }),
    )
    return replies.reduce((a, b) => a + b, 0)
  }
  const endToEnd = async (mode: 'single' | 'batch', rate: number, withReads: boolean) => {
    const base = await visibleTotal()
    let ackTimes = new Float64Array(1 << 16)
    let acks = 0
    let visible = 0
    const delay = new Histogram()
    const onAck = (ids: string[], at: number) => {
      if (acks + ids.length > ackTimes.length) {
        const bigger = new Float64Array(Math.max(ackTimes.length * 2, acks + ids.length))
        bigger.set(ackTimes)
        ackTimes = bigger
      }
      for (let i = 0; i < ids.length; i++) ackTimes[acks++] = at
    }
    let polling = true
    let pollDeadline = Number.POSITIVE_INFINITY
    // NOTE: the k-th acknowledged click counts as visible when the analytics total has grown by k; the
    // poll interval (100 ms) bounds the resolution.
    const poller = (async () => {
      while (polling || visible < acks) {
        const total = (await visibleTotal()) - base
        const now = performance.now()
        while (visible < Math.min(total, acks)) delay.record(now - (ackTimes[visible++] as number))
        if (!polling && performance.now() > pollDeadline) break
        await sleep(100)
      }
    })()
    const reads = withReads ? readLoad(analyticsPool, readRate) : undefined
    const summary = await load(
      { mode, rate, batchSize, connections: mode === 'batch' ? Math.min(connections, 16) : connections },
      onAck,
    )
    const readResults = await reads?.stop()
    pollDeadline = performance.now() + 60_000
    polling = false
    await poller
    return {
      summary,
      delivered: visible,
      acknowledged: acks,
      delayMs: { p50: delay.percentile(50), p99: delay.percentile(99), max: delay.max },
      reads: readResults,
    }
  }
  say(`(b) end to end, single clicks at ${e2eRate}/s, (d) reads at ${readRate}/s each meanwhile`)
  const single = await endToEnd('single', e2eRate, true)
  await waitForWorker('after (b) single')
  say(`(b) end to end, batches of ${batchSize} at ${batchRate} clicks/s`)
  const batched = await endToEnd('batch', batchRate, false)
  await analyticsPool.close()
  results.endToEnd = { single, batched }
  for (const [label, r, target] of [
    ['single', single, 10_000],
    [`batch of ${batchSize}`, batched, 50_000],
  ] as const) {
    rows.push({
      measure: `(b) end to end, ${label}, offered ${fmt.rate(r.summary.targetRate)}`,
      result: `${fmt.rate(r.summary.clicksPerSecond)} acked; delivery p50 ${fmt.ms(r.delayMs.p50)}, p99 ${fmt.ms(r.delayMs.p99)}; ${r.delivered}/${r.acknowledged} visible`,
      baseline: `offered ${fmt.rate(r.summary.targetRate)}`,
      ratio: fmt.ratio(r.summary.clicksPerSecond, r.summary.targetRate),
      target: `>= ${fmt.rate(target)}, p99 <= 1 s`,
      met:
        r.summary.clicksPerSecond >= target * 0.98 && r.delayMs.p99 <= 1000 && r.delivered === r.acknowledged
          ? 'yes'
          : 'no',
    })
  }
  const reads = single.reads
  if (reads) {
    for (const [name, h] of Object.entries(reads.byPath)) {
      rows.push({
        measure: `(d) ${name} at ${readRate}/s during ingest`,
        result: `p50 ${fmt.ms(h.p50)}, p99 ${fmt.ms(h.p99)} (${h.count} reads, ${h.errors} errors)`,
        baseline: `idle: p50 ${fmt.ms(reads.idle[name]?.p50 ?? 0)}, p99 ${fmt.ms(reads.idle[name]?.p99 ?? 0)}`,
        ratio: '-',
        target: 'p99 <= 5 ms',
        met: h.p99 <= 5 ? 'yes' : 'no',
      })
    }
  }

  // (e) Peak RSS of each process over the whole run.
  const rss: Record<string, number | undefined> = {}
  for (const s of services) rss[s.name] = peakRssMiB(s.process.pid)
  results.peakRssMiB = rss
  for (const name of ['ingest-api', 'click-worker', 'analytics-api'] as const) {
    rows.push({
      measure: `(e) peak RSS ${name}`,
      result: fmt.mib(rss[name]),
      baseline: `bare Fastify ${fmt.mib(rss['bare-fastify'])}`,
      ratio: '-',
      target: '< 150 MB',
      met: rss[name] !== undefined && (rss[name] as number) * 1.048576 < 150 ? 'yes' : 'no',
    })
  }

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.versions.node}, everything on this one machine (load generator included)`
  const settings = `--seconds ${seconds} --connections ${connections} --ceiling-connections ${ceilingConnections.join(',')} --drain-clicks ${drainClicks} --e2e-rate ${e2eRate} --batch-rate ${batchRate} --batch-size ${batchSize} --read-rate ${readRate}`
  const table = markdownTable(rows)
  const when = new Date().toISOString()
  const md = `# Benchmark ${when}\n\nMachine: ${machine}.\n\nSettings: \`npm run bench -- ${settings}\`\n\n${table}\n`
  mkdirSync(args.out, { recursive: true })
  const stamp = when.replace(/[:.]/g, '-')
  writeFileSync(
    join(args.out, `bench-${stamp}.json`),
    `${JSON.stringify({ when, machine, settings, rows, results }, null, 2)}\n`,
  )
  writeFileSync(join(args.out, `bench-${stamp}.md`), md)
  writeFileSync(join(args.out, 'latest.md'), md)
  process.stdout.write(`\n${md}\nwritten to ${args.out}/bench-${stamp}.{json,md}\n`)
} finally {
  for (const s of services.reverse()) await s.stop().catch(() => undefined)
  await sql?.end({ timeout: 5 })
  await stack?.stop()
  await rm(dataDir, { recursive: true, force: true })
}

interface ReadStats {
  p50: number
  p99: number
  count: number
  errors: number
}

/**
 * GET /ads/analytics and GET /ads/top, each at `rate` per second, until stop(). First, as the baseline,
 * 200 sequential reads of each while ingest is still idle (the load generator starts alongside, so the
 * first of these may overlap its ramp-up).
 */
function readLoad(pool: Pool, rate: number) {
  const paths = {
    'GET /ads/analytics': () =>
      `/ads/analytics?ad_id=${DEMO_ADS[Math.floor(Math.random() * DEMO_ADS.length)]}`,
    'GET /ads/top': () => '/ads/top?window=5m&limit=10',
  }
  const hist: Record<string, Histogram> = {}
  const errors: Record<string, number> = {}
  const idle: Record<string, ReadStats> = {}
  let running = true
  const inFlight = new Set<Promise<void>>()
  const one = async (name: string, path: string, h: Histogram) => {
    const t0 = performance.now()
    try {
      const res = await pool.request({ method: 'GET', path })
      await res.body.dump()
      if (res.statusCode !== 200) errors[name] = (errors[name] ?? 0) + 1
    } catch {
      errors[name] = (errors[name] ?? 0) + 1
    }
    h.record(performance.now() - t0)
  }
  const loop = (async () => {
    // Idle baseline: 200 sequential reads of each before the ingest load has built up.
    for (const [name, path] of Object.entries(paths)) {
      const h = new Histogram()
      for (let i = 0; i < 200; i++) await one(name, path(), h)
      idle[name] = { p50: h.percentile(50), p99: h.percentile(99), count: h.count, errors: 0 }
    }
    for (const name of Object.keys(paths)) {
      hist[name] = new Histogram()
      errors[name] = 0
    }
    const started = performance.now()
    let issued = 0
    while (running) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - issued
      for (let i = 0; i < due; i++) {
        for (const [name, path] of Object.entries(paths)) {
          const p = one(name, path(), hist[name] as Histogram).finally(() => inFlight.delete(p))
          inFlight.add(p)
        }
        issued++
      }
      await sleep(2)
    }
    await Promise.all(inFlight)
  })()
  return {
    async stop() {
      running = false
      await loop
      const byPath: Record<string, ReadStats> = {}
      for (const [name, h] of Object.entries(hist)) {
        byPath[name] = {
          p50: h.percentile(50),
          p99: h.percentile(99),
          count: h.count,
          errors: errors[name] ?? 0,
        }
      }
      return { byPath, idle }
    },
  }
}
