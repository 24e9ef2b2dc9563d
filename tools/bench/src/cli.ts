#!/usr/bin/env node
// npm run bench: starts its own Kafka, Postgres and Redis (temporary directory, free ports) and the three
// built services as processes, drives them with the load generator, and prints a table in which every
// figure stands next to a baseline measured in the same run. Writes bench-results/bench-<time>.{json,md,svg}
// and bench-results/latest.{md,svg}. Bounded: each phase has a duration, each wait a timeout, the rate
// search a number of steps.
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
import { DEMO_ADS, type LoadSummary, loadDefaults, type Progress, runLoad, Traffic } from '@adtrack/loadgen'
import { freePort, freeStackPorts, startStack } from '@adtrack/local-stack'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { Pool } from 'undici'
import { renderChart } from './chart.js'
import { type EndToEndStep, measureEndToEnd } from './end-to-end.js'
import { SERVICE_NODE_OPTIONS } from './node-options.js'
import { peakRssMiB, type Service, startProcess } from './processes.js'
import { nextRate, SUSTAINED } from './rate-search.js'
import { idleReads, readLoad } from './reads.js'
import { fmt, markdownTable, type Row } from './report.js'
import { TimelineRecorder } from './timeline.js'

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
    'search-steps': { type: 'string', default: '3' },
    'search-seconds': { type: 'string', default: '5' },
    out: { type: 'string', default: join(root, 'bench-results') },
    'cpu-prof': { type: 'boolean' },
    'node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
    help: { type: 'boolean' },
  },
})
if (args.help) {
  process.stdout.write(`npm run bench -- [options]

Starts its own Kafka, PostgreSQL and Redis and the built services, measures, prints a table and writes it
with every raw figure to <out>/bench-<time>.{json,md}, a chart of the run to <out>/bench-<time>.svg, and
<out>/latest.{md,svg}.

  --seconds <n>              length of each fixed phase: (a) and the first step of each (b) (default 10)
  --connections <n>          load generator connections for (b) (batches: at most 16) (default 32)
  --ceiling-connections <l>  (a) is measured at each of these connection counts (default 32,256)
  --drain-clicks <n>         clicks on the topic before the worker starts, for (c) (default 200000)
  --e2e-rate <n>             (b) single clicks offered per second: the target, and the first step
                             of the rate search (default 10000)
  --batch-rate <n>           (b) batched clicks offered per second, likewise (default 50000)
  --batch-size <n>           clicks per POST /ads/clicks in (b) batched (default 100)
  --read-rate <n>            (d) reads per second of each read route during (b) single (default 100)
  --search-steps <n>         (b) rate search: at most this many rates tried after the target, when the
                             target is not sustained (acknowledged >= 98% of offered and every click
                             visible in GET /ads/analytics within 1 s at p99); 0 = target only (default 3)
  --search-seconds <n>       length of each search step after the first (default 5)
  --out <dir>                where the results go (default bench-results)
  --cpu-prof                 the services write V8 CPU profiles to <out>/profiles/ when they stop
  --node-options=<flags>     NODE_OPTIONS for the three services and the bare server (with "=", as
                             the value starts with a dash), e.g. --node-options=--max-semi-space-size=2
                             to see what a V8 heap setting costs or saves; --node-options= for
                             none (default: the images' own, ${SERVICE_NODE_OPTIONS})
`)
  process.exit(0)
}
/** A numeric option, or exit with a message naming it. */
const numberArg = (name: keyof typeof args, min: number, integer = true): number => {
  const text = String(args[name])
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    process.stderr.write(
      `bench: --${name} must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${text}"\n`,
    )
    process.exit(2)
  }
  return n
}
const seconds = numberArg('seconds', 0.1, false)
const connections = numberArg('connections', 1)
const ceilingConnections = args['ceiling-connections']
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const drainClicks = numberArg('drain-clicks', 1)
const e2eRate = numberArg('e2e-rate', 1, false)
const batchRate = numberArg('batch-rate', 1, false)
const batchSize = numberArg('batch-size', 1)
const readRate = numberArg('read-rate', 0, false)
const searchSteps = numberArg('search-steps', 0)
const searchSeconds = numberArg('search-seconds', 0.1, false)
const profArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(args.out, 'profiles')}`] : []
const nodeOptions = args['node-options'].trim()
/** The environment every measured Node process gets on top of its own. */
const nodeEnv: Record<string, string> = nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}
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
    ports: await freeStackPorts(),
    log: (m) => say(m),
  })
  // The chart's time 0: the stack is up.
  const timeline = new TimelineRecorder()
  const db = createSql(stack.postgres.url, { max: 4 })
  sql = db
  await migrate(db)
  await seedDemoAds(db)
  const common = {
    ...nodeEnv,
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
  timeline.phase(`(c) producing ${drainClicks.toLocaleString('en-US')} clicks to Kafka`)
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
  timeline.end()
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
  /** Samples the worker's rows per second for the chart, at most once a second. */
  const workerRateSampler = (from: number) => {
    let at = performance.now()
    let rows = from
    return (n: number) => {
      const now = performance.now()
      if (now - at < 1000) return
      timeline.sample({ storedPerSecond: ((n - rows) * 1000) / (now - at) })
      at = now
      rows = n
    }
  }
  let lastEmptyAt = workerStart
  let firstRowAt: number | undefined
  let rowsAtFirst = 0
  let drainedAt: number | undefined
  const drainUntil = performance.now() + Math.max(180_000, drainClicks / 2)
  timeline.phase('(c) worker drain')
  const sampleDrain = workerRateSampler(0)
  while (performance.now() < drainUntil && !stop.signal.aborted) {
    const n = await countClicks()
    sampleDrain(n)
    if (n === 0) lastEmptyAt = performance.now()
    else if (firstRowAt === undefined) {
      firstRowAt = performance.now()
      rowsAtFirst = n
    }
    if (n >= drainClicks) {
      drainedAt = performance.now()
      break
    }
    await sleep(200)
  }
  timeline.end()
  const drained = await countClicks()
  // The rate is the rows stored between the first poll that saw rows and the first that saw them all,
  // over the time between the two. When one poll saw them all at once (few clicks), it is all the rows
  // over the time since the last poll that saw none: a lower bound, not a division by next to nothing.
  const allAtOnce = firstRowAt === undefined || rowsAtFirst >= drained
  const drainSeconds =
    ((drainedAt ?? performance.now()) - (allAtOnce ? lastEmptyAt : (firstRowAt as number))) / 1000
  const workerRate = (allAtOnce ? drained : drained - rowsAtFirst) / drainSeconds
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
  timeline.phase('(c) COPY baseline')
  const copyStart = performance.now()
  const writable =
    await sql`copy clicks_copy (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset, viewer_id, invalid_reason) from stdin`.writable()
  await pipeline(Readable.from(lines), writable)
  const copySeconds = (performance.now() - copyStart) / 1000
  const copyRate = drainClicks / copySeconds
  timeline.end()
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
    join(root, 'tools/bench/dist/bare-server.js'),
    { ...nodeEnv, HTTP_PORT: String(barePort) },
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
  ): Promise<LoadSummary> =>
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
        onProgress: (p: Progress) => {
          say(
            `  ${p.second}s ${Math.round(p.clicksPerSecond)} clicks/s p50 ${p.p50.toFixed(1)} ms p99 ${p.p99.toFixed(1)} ms errors ${p.errors} ${JSON.stringify(p.statuses)}`,
          )
          timeline.sample({
            ackedPerSecond: p.clicksPerSecond,
            ...(p.requestsPerSecond > 0 ? { p50Ms: p.p50, p99Ms: p.p99 } : {}),
          })
        },
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
      timeline.phase(`(a) warm-up ingest-api ${conns} conns`)
      await load({ durationMs: 2000, connections: conns })
      say(`(a) ingest-api POST /ads/click, flat out, ${conns} connections`)
      timeline.phase(`(a) ingest-api ${conns} conns`)
      ceiling = await load({ connections: conns })
      timeline.phase(`(a) warm-up bare Fastify ${conns} conns`)
      await load(
        { url: `http://127.0.0.1:${barePort}`, durationMs: 2000, connections: conns },
        undefined,
        false,
      )
      say(`(a) bare Fastify POST /ads/click, flat out, ${conns} connections`)
      timeline.phase(`(a) bare Fastify ${conns} conns`)
      bareSummary = await load({ url: `http://127.0.0.1:${barePort}`, connections: conns }, undefined, false)
    } finally {
      timeline.end()
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
    let n = await countClicks()
    if (n >= acknowledgedTotal) return true
    timeline.phase('worker catch-up')
    const sample = workerRateSampler(n)
    try {
      while (performance.now() < until && !stop.signal.aborted) {
        await sleep(500)
        n = await countClicks()
        sample(n)
        if (n >= acknowledgedTotal) return true
      }
    } finally {
      timeline.end()
    }
    say(`${what}: the worker had not caught up after 180 s`)
    return false
  }
  say('waiting for the worker to catch up')
  await waitForWorker('after (a)')

  // (b) End to end: first at the target rate for --seconds (with (d) reads meanwhile, for single clicks),
  // then, if that is not sustained, a search down for the highest rate that is.
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
  const e2eDeps = {
    load: (over: Parameters<typeof load>[0], hooks: { onAck: (ids: string[], at: number) => void }) =>
      load(over, hooks.onAck),
    visibleTotal,
    timeline,
  }
  const searchRate = async (mode: 'single' | 'batch', target: number, withReads: boolean) => {
    const label = mode === 'single' ? 'single' : `batches of ${batchSize}`
    const steps: EndToEndStep[] = []
    let rate: number | undefined = target
    while (rate !== undefined && steps.length <= searchSteps && !stop.signal.aborted) {
      const first = steps.length === 0
      if (!first) {
        // The worker catches up with the failed step before the next one, and the machine settles. A
        // worker that cannot catch up would make every later step fail for a reason of its own.
        if (!(await waitForWorker(`before (b) ${label} at ${rate}/s`))) {
          say(`(b) ${label}: rate search stopped, the worker did not catch up`)
          break
        }
        await sleep(1000)
      }
      const reads = first && withReads
      // (d)'s baseline, before the load starts: the same reads, one at a time, on an idle ingest path.
      if (reads) timeline.phase('(d) idle baseline reads')
      const idle = reads ? await idleReads(analyticsPool) : {}
      say(
        `(b) end to end, ${label} at ${rate} clicks/s${reads ? `, (d) reads at ${readRate}/s each meanwhile` : ''}${first ? '' : ' (rate search)'}`,
      )
      timeline.phase(
        `(b) ${label} at ${fmt.rate(rate)}${reads ? ' + (d) reads' : ''}${first ? '' : ' (search)'}`,
      )
      const step = await measureEndToEnd(e2eDeps, {
        mode,
        rate,
        durationMs: (first ? seconds : searchSeconds) * 1000,
        batchSize,
        connections: mode === 'batch' ? Math.min(connections, 16) : connections,
        reads: reads ? () => readLoad(analyticsPool, readRate, idle) : undefined,
      })
      timeline.end()
      say(
        `(b) ${label} at ${rate}/s: ${Math.round(step.ackedRate)}/s acked, delivery p50 ${fmt.ms(step.delayMs.p50)} p99 ${fmt.ms(step.delayMs.p99)}, ${step.delivered}/${step.acknowledged} visible: ${step.pass ? 'sustained' : `not sustained (${step.reasons.join('; ')})`}`,
      )
      steps.push(step)
      rate = nextRate(steps, { minRate: mode === 'batch' ? batchSize : 1 })
    }
    const best = steps.filter((s) => s.pass).sort((x, y) => y.rate - x.rate)[0]
    return { target, steps, best }
  }
  const single = await searchRate('single', e2eRate, true)
  await waitForWorker('after (b) single')
  const batched = await searchRate('batch', batchRate, false)
  await analyticsPool.close()
  const searchResult = (search: typeof single) => ({
    target: search.target,
    best: search.best
      ? { rate: search.best.rate, ackedRate: search.best.ackedRate, delayMs: search.best.delayMs }
      : null,
    steps: search.steps,
  })
  results.endToEnd = { criteria: SUSTAINED, single: searchResult(single), batched: searchResult(batched) }
  const ceilingAtSameConnections = ceilings[connections]?.ingest.clicksPerSecond
  for (const [label, search, target, baseline] of [
    [
      'single',
      single,
      10_000,
      ceilingAtSameConnections === undefined
        ? undefined
        : { name: `(a) ingest ceiling at ${connections} conns`, rate: ceilingAtSameConnections },
    ],
    [`batch of ${batchSize}`, batched, 50_000, { name: '(c) worker drain', rate: workerRate }],
  ] as const) {
    const r = search.steps[0]
    if (!r) continue
    rows.push({
      measure: `(b) end to end, ${label}, offered ${fmt.rate(r.rate)}`,
      result: `${fmt.rate(r.ackedRate)} acked; delivery p50 ${fmt.ms(r.delayMs.p50)}, p99 ${fmt.ms(r.delayMs.p99)}; ${r.delivered}/${r.acknowledged} visible`,
      baseline: `offered ${fmt.rate(r.rate)}`,
      ratio: fmt.ratio(r.ackedRate, r.rate),
      target: `>= ${fmt.rate(target)}, p99 <= 1 s`,
      met:
        r.ackedRate >= target * 0.98 && r.delayMs.p99 <= 1000 && r.delivered === r.acknowledged
          ? 'yes'
          : 'no',
    })
    const best = search.best
    const tried = search.steps.map((s) => `${fmt.rate(s.rate)} ${s.pass ? 'yes' : 'no'}`).join(', ')
    rows.push({
      measure: `(b) highest sustained rate, ${label} (all visible within 1 s at p99)`,
      result: best
        ? `${fmt.rate(best.rate)} (${fmt.rate(best.ackedRate)} acked; delivery p50 ${fmt.ms(best.delayMs.p50)}, p99 ${fmt.ms(best.delayMs.p99)}); tried ${tried}`
        : `none of the rates tried: ${tried}`,
      baseline: baseline ? `${baseline.name} ${fmt.rate(baseline.rate)}` : '-',
      ratio: baseline ? fmt.ratio(best?.rate ?? 0, baseline.rate) : '-',
      target: `>= ${fmt.rate(target)}`,
      met: best !== undefined && best.rate >= target ? 'yes' : 'no',
    })
  }
  const reads = single.steps[0]?.reads
  if (reads) {
    for (const [name, h] of Object.entries(reads.byPath)) {
      rows.push({
        measure: `(d) ${name} at ${readRate}/s during ingest`,
        result: `p50 ${fmt.ms(h.p50)}, p99 ${fmt.ms(h.p99)} (${h.count} reads, ${h.errors} errors)`,
        baseline: `idle: p50 ${fmt.ms(reads.idle[name]?.p50 ?? 0)}, p99 ${fmt.ms(reads.idle[name]?.p99 ?? 0)}`,
        ratio: '-',
        target: 'p99 <= 5 ms',
        // No reads at all (a step shorter than one read interval) is no evidence either way.
        met: h.count === 0 ? '-' : h.p99 <= 5 && h.errors === 0 ? 'yes' : 'no',
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
  const settings = `--seconds ${seconds} --connections ${connections} --ceiling-connections ${ceilingConnections.join(',')} --drain-clicks ${drainClicks} --e2e-rate ${e2eRate} --batch-rate ${batchRate} --batch-size ${batchSize} --read-rate ${readRate} --search-steps ${searchSteps} --search-seconds ${searchSeconds}${nodeOptions ? ` --node-options="${nodeOptions}"` : ''}`
  const table = markdownTable(rows)
  const when = new Date().toISOString()
  const stamp = when.replace(/[:.]/g, '-')
  const chartFile = `bench-${stamp}.svg`
  const md = `# Benchmark ${when}\n\nMachine: ${machine}.\n\nSettings: \`npm run bench -- ${settings}\`\n\n${table}\n\n![Throughput, latency and delivery backlog over the run](${chartFile})\n`
  const run = timeline.toJSON()
  const svg = renderChart(run, { title: `npm run bench, ${when}` })
  mkdirSync(args.out, { recursive: true })
  writeFileSync(
    join(args.out, `bench-${stamp}.json`),
    `${JSON.stringify({ when, machine, settings, rows, results, timeline: run }, null, 2)}\n`,
  )
  writeFileSync(join(args.out, `bench-${stamp}.md`), md)
  writeFileSync(join(args.out, chartFile), svg)
  writeFileSync(join(args.out, 'latest.md'), md)
  writeFileSync(join(args.out, 'latest.svg'), svg)
  process.stdout.write(`\n${md}\nwritten to ${args.out}/bench-${stamp}.{json,md,svg}\n`)
} finally {
  for (const s of services.reverse()) await s.stop().catch(() => undefined)
  await sql?.end({ timeout: 5 })
  await stack?.stop()
  await rm(dataDir, { recursive: true, force: true })
}
