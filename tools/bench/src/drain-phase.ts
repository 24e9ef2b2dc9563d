// (c) Worker drain vs COPY: N clicks on the topic before the worker starts; the worker's rate of storing
// them, next to COPY loading the same rows into a table like clicks.
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_ADS, Traffic } from '@adtrack/loadgen'
import { type Kafka, Partitioners } from 'kafkajs'
import { type BenchRun, countClicks, TOPIC, workerRateSampler } from './bench-run.js'
import { type Service, startWorker } from './processes.js'
import { fmt } from './report.js'

type Message = ReturnType<typeof drainMessages>[number]

export async function measureDrain(
  run: BenchRun,
  kafka: Kafka,
): Promise<{ worker: Service; workerRate: number }> {
  const { opts, say, timeline, db } = run
  const { drainClicks } = opts
  say(`(c) producing ${drainClicks} clicks to the topic`)
  timeline.phase(`(c) producing ${drainClicks.toLocaleString('en-US')} clicks to Kafka`)
  const messages = drainMessages(drainClicks)
  await produce(kafka, messages)
  timeline.end()
  const workerStart = performance.now()
  const worker = await startWorker(run)
  const { drained, drainSeconds, workerRate } = await timeDrain(run, workerStart)
  say(`(c) worker stored ${drained} clicks in ${drainSeconds.toFixed(1)} s (${Math.round(workerRate)}/s)`)

  const { copySeconds, copyRate } = await timeCopy(run, messages)
  await db`drop table clicks_copy`
  say(`(c) COPY loaded ${drainClicks} rows in ${copySeconds.toFixed(1)} s (${Math.round(copyRate)}/s)`)
  run.results.drain = { clicks: drainClicks, drained, drainSeconds, workerRate, copySeconds, copyRate }
  run.rows.push({
    measure: `(c) worker drain, ${drainClicks.toLocaleString('en-US')} clicks`,
    result: `${fmt.rate(workerRate)} (${drainSeconds.toFixed(1)} s)`,
    baseline: `COPY alone ${fmt.rate(copyRate)} (${copySeconds.toFixed(1)} s)`,
    ratio: fmt.ratio(workerRate, copyRate),
    target: '>= 0.5',
    met: drained >= drainClicks && workerRate / copyRate >= 0.5 ? 'yes' : 'no',
  })
  run.acknowledged.total += drainClicks
  return { worker, workerRate }
}

/** Kafka messages as ingest-api writes them, from realistic traffic (fixed seed: every run the same). */
function drainMessages(count: number) {
  const traffic = new Traffic(DEMO_ADS, {
    zipf: 1.1,
    viewers: 100_000,
    botShare: 0.01,
    repeatShare: 0.02,
    seed: 7,
  })
  const receivedAt = new Date().toISOString()
  return Array.from({ length: count }, (_, i) => {
    const c = traffic.click()
    return {
      v: 1,
      ...c,
      received_at: receivedAt,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      user_agent: traffic.userAgent(),
    }
  })
}

async function produce(kafka: Kafka, messages: Message[]): Promise<void> {
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
}

/** Polls the clicks table until the worker has stored every click on the topic (bounded). */
async function timeDrain(run: BenchRun, workerStart: number) {
  const { drainClicks } = run.opts
  let lastEmptyAt = workerStart
  let firstRowAt: number | undefined
  let rowsAtFirst = 0
  let drainedAt: number | undefined
  const drainUntil = performance.now() + Math.max(180_000, drainClicks / 2)
  run.timeline.phase('(c) worker drain')
  const sampleDrain = workerRateSampler(run, 0)
  while (performance.now() < drainUntil && !run.signal.aborted) {
    const n = await countClicks(run)
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
  run.timeline.end()
  const drained = await countClicks(run)
  // The rate is the rows stored between the first poll that saw rows and the first that saw them all,
  // over the time between the two. When one poll saw them all at once (few clicks), it is all the rows
  // over the time since the last poll that saw none: a lower bound, not a division by next to nothing.
  const allAtOnce = firstRowAt === undefined || rowsAtFirst >= drained
  const drainSeconds =
    ((drainedAt ?? performance.now()) - (allAtOnce ? lastEmptyAt : (firstRowAt as number))) / 1000
  const workerRate = (allAtOnce ? drained : drained - rowsAtFirst) / drainSeconds
  return { drained, drainSeconds, workerRate }
}

/** The baseline: the same rows into a table like clicks (same keys and indexes) with COPY alone. */
async function timeCopy(run: BenchRun, messages: Message[]) {
  const { db, timeline } = run
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
    await db`copy clicks_copy (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset, viewer_id, invalid_reason) from stdin`.writable()
  await pipeline(Readable.from(lines), writable)
  const copySeconds = (performance.now() - copyStart) / 1000
  const copyRate = run.opts.drainClicks / copySeconds
  timeline.end()
  return { copySeconds, copyRate }
}
