#!/usr/bin/env node
// npm run bench: starts its own Kafka, Postgres and Redis (temporary directory, free ports) and the three
// built services as processes, drives them with the load generator, and prints a table in which every
// figure stands next to a baseline measured in the same run. Writes bench-results/bench-<time>.{json,md,svg}
// and bench-results/latest.{md,svg}. Bounded: each phase has a duration, each wait a timeout, the rate
// search a number of steps. Each measured phase is a module of its own; this file runs them in order.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSql, migrate, seedDemoAds } from '@adtrack/db'
import { freeStackPorts, startStack } from '@adtrack/local-stack'
import { Kafka, logLevel } from 'kafkajs'
import { type BenchRun, loadAgainst, TOPIC, waitForWorker } from './bench-run.js'
import { measureCeilings } from './ceiling-phase.js'
import { renderChart } from './chart.js'
import { measureDrain } from './drain-phase.js'
import { measureEndToEndPhase } from './end-to-end-phase.js'
import { measureEvents } from './events-phase.js'
import { parseBenchOptions } from './options.js'
import { type Service, startApis } from './processes.js'
import { markdownTable } from './report.js'
import { measurePeakRss } from './rss-phase.js'
import { TimelineRecorder } from './timeline.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const opts = parseBenchOptions(process.argv.slice(2), root)
const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)
const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())

const dataDir = await mkdtemp(join(tmpdir(), 'adtrack-bench-'))
const services: Service[] = []
let stack: Awaited<ReturnType<typeof startStack>> | undefined
let sql: ReturnType<typeof createSql> | undefined

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
  // A key of this run's own, so that the services do not warn of the development key; the load generator
  // mints the impressions' tokens with it, as analytics-api would.
  const trackingKeys = `bench:${randomBytes(32).toString('base64url')}`
  const run: BenchRun = {
    opts,
    root,
    dataDir,
    say,
    signal: stop.signal,
    timeline,
    db,
    serviceEnv: {
      ...opts.nodeEnv,
      DATABASE_URL: stack.postgres.url,
      REDIS_URL: stack.redis.url,
      KAFKA_BROKERS: stack.kafka.brokers.join(','),
      KAFKA_TOPIC: TOPIC,
      // Request logs at info would cost every request a JSON line; production runs would ship them.
      LOG_LEVEL: 'warn',
      TRACKING_TOKEN_KEYS: trackingKeys,
    },
    trackingKeys,
    services,
    rows: [],
    results: {},
    acknowledged: { total: 0, events: 0 },
  }
  const kafka = new Kafka({ clientId: 'bench', brokers: stack.kafka.brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 12, replicationFactor: 1 }] })
  await admin.disconnect()

  const { worker, workerRate } = await measureDrain(run, kafka)
  const { ingestUrl, analyticsUrl, bareUrl } = await startApis(run)
  const load = loadAgainst(run, ingestUrl)
  const ceilings = await measureCeilings(run, { load, worker, bareUrl })
  say('waiting for the worker to catch up')
  await waitForWorker(run, 'after (a)')
  await measureEndToEndPhase(run, { load, analyticsUrl, ceilings, workerRate })
  if (opts.eventsSeconds > 0) {
    await waitForWorker(run, 'after (b)')
    await measureEvents(run, { load, worker, bareUrl })
  }
  measurePeakRss(run)
  writeReport(run)
} finally {
  for (const s of services.reverse()) await s.stop().catch(() => undefined)
  await sql?.end({ timeout: 5 })
  await stack?.stop()
  await rm(dataDir, { recursive: true, force: true })
}

/** Prints the table and writes it, every raw figure and the chart to --out. */
function writeReport({ opts, rows, results, timeline }: BenchRun): void {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.versions.node}, everything on this one machine (load generator included)`
  const { settings } = opts
  const table = markdownTable(rows)
  const when = new Date().toISOString()
  const stamp = when.replace(/[:.]/g, '-')
  const chartFile = `bench-${stamp}.svg`
  const md = `# Benchmark ${when}\n\nMachine: ${machine}.\n\nSettings: \`npm run bench -- ${settings}\`\n\n${table}\n\n![Throughput, latency and delivery backlog over the run](${chartFile})\n`
  const timelineJson = timeline.toJSON()
  const svg = renderChart(timelineJson, { title: `npm run bench, ${when}` })
  mkdirSync(opts.out, { recursive: true })
  writeFileSync(
    join(opts.out, `bench-${stamp}.json`),
    `${JSON.stringify({ when, machine, settings, rows, results, timeline: timelineJson }, null, 2)}\n`,
  )
  writeFileSync(join(opts.out, `bench-${stamp}.md`), md)
  writeFileSync(join(opts.out, chartFile), svg)
  writeFileSync(join(opts.out, 'latest.md'), md)
  writeFileSync(join(opts.out, 'latest.svg'), svg)
  process.stdout.write(`\n${md}\nwritten to ${opts.out}/bench-${stamp}.{json,md,svg}\n`)
}
