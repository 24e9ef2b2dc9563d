import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deadLetterTopic } from '@adtrack/contracts'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { produceHostileRecords, readDeadLetteredClicks, sendHostileClicks } from './hostile.js'
import { type LoadResult, PlayerLoad } from './load.js'
import { FaultRig, printTable, type Scenario, type ScenarioRow } from './rig.js'

// Each scenario runs a steady load like players send (clicks on POST /ads/click, and VAST impressions'
// pixels and click-throughs on /track/; players retry a refused click with the same click_id and a
// pixel with the same URL, and fire some pixels twice), breaks something for real, lets the load
// finish, and then checks the promise: every click and every (impression, event) that was acknowledged
// is in Postgres exactly once, and Redis counts equal Postgres counts.
let rig: FaultRig
const rows: ScenarioRow[] = []
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  rig = await FaultRig.start()
})

afterAll(async () => {
  await rig?.stop()
  if (rows.length) {
    const table = printTable(rows)
    process.stdout.write(`\nfault suite\n${table}\n`)
    await mkdir('test-results', { recursive: true })
    await writeFile(join('test-results', 'faults.md'), `${table}\n`)
  }
})

async function run(scenario: Scenario, load: PlayerLoad, fault: () => Promise<void>) {
  try {
    await fault()
    const result = await load.stop()
    const row = await scenario.verify(result)
    rows.push(row)
    expectExactlyOnce(row)
    // Players retried until acknowledged, so the stored sets are exactly the acknowledged sets.
    expect(result.acknowledged.size, 'clicks never acknowledged').toBe(result.attempted.size)
    expect(result.acknowledgedEvents.size, 'pixels never acknowledged').toBe(result.attemptedEvents.size)
    expect(row.inPostgres).toBe(row.acknowledged)
    expect(row.eventsInPostgres).toBe(row.acknowledgedEvents)
    expectTheMix(result)
    return { row, result }
  } finally {
    await scenario.close()
  }
}

function expectExactlyOnce(row: Awaited<ReturnType<Scenario['verify']>>): void {
  for (const kind of ['clicks', 'events'] as const) {
    const found = row[kind]
    expect(found.lost, `acknowledged ${kind} missing from Postgres`).toBe(0)
    expect(found.duplicated, `${kind} counted twice in Redis`).toBe(0)
    expect(found.redisDrift, `Redis ${kind} counts differing from Postgres`).toBe(0)
    expect(found.phantom, `${kind} in Postgres nobody sent`).toBe(0)
  }
}

/** The load really was a mix: events of every stage, impressions' clicks, pixels fired twice. */
function expectTheMix(result: LoadResult): void {
  const events = new Set([...result.acknowledgedEvents.values()].map((e) => e.event))
  expect([...events].sort()).toEqual(expect.arrayContaining(['complete', 'error', 'impression', 'skip']))
  const impressionClicks = [...result.acknowledged.keys()].filter((id) => id.startsWith('imp:'))
  expect(impressionClicks.length, "impressions' clicks acknowledged").toBeGreaterThan(0)
  expect(result.duplicateFirings, 'pixels fired again after their 200').toBeGreaterThan(0)
}

/** Player-like load on the scenario's ingest-api (see PlayerLoad). */
const playerLoad = (s: Scenario, opts: ConstructorParameters<typeof PlayerLoad>[2]) =>
  new PlayerLoad(s.service('ingest-api').httpUrl, s.trackingKeys, opts).start()

const clickUrl = (scenario: Scenario) => `${scenario.service('ingest-api').httpUrl}/ads/click`

/** A scenario with its ingest-api and `workers` click-workers running, under player-like load at 100/s. */
async function underLoad(
  name: string,
  limits: { maxRequests: number; giveUpAfterMs: number },
  opts: { env?: Record<string, string>; workers?: number } = {},
): Promise<{ s: Scenario; load: PlayerLoad }> {
  const s = await rig.scenario(name, opts.env)
  await s.start('ingest-api')
  for (let i = 0; i < (opts.workers ?? 1); i++) await s.start('click-worker')
  return { s, load: playerLoad(s, { ratePerSecond: 100, ...limits }) }
}

/** A fault: after `before` ms of load takes `part` of the stack down, and starts it again `during` ms later. */
const outage =
  <P extends { start(): Promise<unknown> }>(
    part: P,
    before: number,
    during: number,
    down: (p: P) => Promise<unknown>,
  ) =>
  async () => {
    await pause(before)
    await down(part)
    await pause(during)
    await part.start()
  }

describe('no acknowledged click or event is lost or counted twice', () => {
  it('Kafka broker killed with SIGKILL mid-load, then restarted', async () => {
    const { s, load } = await underLoad('kafka SIGKILL + restart', {
      maxRequests: 1500,
      giveUpAfterMs: 90_000,
    })
    await run(
      s,
      load,
      outage(rig.stack.kafka, 4000, 4000, (k) => k.kill('SIGKILL')),
    )
  })

  it('a worker killed with SIGKILL mid-batch five times, a second worker taking over', async () => {
    const { s, load } = await underLoad(
      'worker SIGKILL x5',
      { maxRequests: 3000, giveUpAfterMs: 90_000 },
      { workers: 2 },
    )
    const kills: (number | null)[] = []
    await run(s, load, async () => {
      for (let i = 0; i < 5; i++) {
        await pause(2500)
        const victim = s.service('click-worker')
        expect(victim.process.pid).toBeDefined()
        kills.push(await victim.stop('SIGKILL'))
        await s.start('click-worker')
      }
    })
    // Five processes really died by SIGKILL (exit code null: killed by a signal).
    expect(kills).toEqual([null, null, null, null, null])
  })

  it('Postgres restarted during a load', async () => {
    const { s, load } = await underLoad('postgres restart', { maxRequests: 1500, giveUpAfterMs: 90_000 })
    await run(
      s,
      load,
      outage(rig.stack.postgres, 4000, 3000, (p) => p.stop()),
    )
  })

  it('Redis restarted with its data gone during a load; reconciliation restores exact counts', async () => {
    const { s, load } = await underLoad('redis restart, data lost', {
      maxRequests: 1500,
      giveUpAfterMs: 90_000,
    })
    // Redis runs without persistence: SIGKILL loses everything in it.
    await run(
      s,
      load,
      outage(rig.stack.redis, 5000, 2000, (r) => r.kill('SIGKILL')),
    )
  })

  it('the spool fills while Kafka is down: further clicks get 503, no acknowledged click is lost', async () => {
    // The smallest spool allowed (64 KiB, some 200 clicks), so that it fills within the outage.
    const { s, load } = await underLoad(
      'spool full while kafka down',
      { maxRequests: 1500, giveUpAfterMs: 120_000 },
      { env: { SPOOL_MAX_BYTES: '65536' } },
    )
    let spoolFullSeen = 0
    const { result } = await run(s, load, async () => {
      await pause(3000)
      await rig.stack.kafka.kill('SIGKILL')
      // Wait until the spool has refused clicks for a while, then bring Kafka back.
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline && (load.result.refusals.get('503') ?? 0) < 50) await pause(250)
      spoolFullSeen = load.result.refusals.get('503') ?? 0
      await pause(1000)
      await rig.stack.kafka.start()
    })
    expect(spoolFullSeen, 'clicks refused with 503 while the spool was full').toBeGreaterThanOrEqual(50)
    expect(result.acknowledged.size).toBe(result.attempted.size)
  })

  it('a poison message lands in the dead-letter topic and its partition keeps flowing', async () => {
    const { s, load } = await underLoad('poison message', { maxRequests: 1000, giveUpAfterMs: 60_000 })
    const kafka = new Kafka({
      clientId: 'poisoner',
      brokers: rig.stack.kafka.brokers,
      logLevel: logLevel.NOTHING,
    })
    const topic = s.env.KAFKA_TOPIC as string
    const { row } = await run(s, load, async () => {
      await pause(3000)
      const producer = kafka.producer()
      await producer.connect()
      // Same keys as real clicks on ads 1 and 3, so they sit in partitions that keep receiving clicks.
      await producer.send({
        topic,
        messages: [
          { key: '1', value: '{"this is": "not a click"' },
          { key: '3', value: JSON.stringify({ v: 1, ad_id: '3', playback_time: 99_999 }) },
        ],
      })
      await producer.disconnect()
    })
    const letters: { value: string; reason: string }[] = []
    const consumer = kafka.consumer({ groupId: `${topic}-dlq-check` })
    await consumer.connect()
    await consumer.subscribe({ topic: deadLetterTopic(topic), fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push({ value: String(message.value), reason: String(message.headers?.['dlq-reason']) })
      },
    })
    const deadline = Date.now() + 30_000
    while (letters.length < 2 && Date.now() < deadline) await pause(200)
    await consumer.disconnect()
    expect(letters.map((l) => l.value).sort()).toEqual(
      ['{"this is": "not a click"', JSON.stringify({ v: 1, ad_id: '3', playback_time: 99_999 })].sort(),
    )
    expect(letters.every((l) => l.reason.length > 0)).toBe(true)
    row.deadLettered = letters.length
  })

  it('hostile records, refused by Postgres (or by the contract once it rules text), are dead-lettered; their partitions keep counting', async () => {
    const { s, load } = await underLoad('hostile record', { maxRequests: 1500, giveUpAfterMs: 60_000 })
    const ads = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']
    const topic = s.env.KAFKA_TOPIC as string
    const brokers = rig.stack.kafka.brokers
    try {
      await pause(3000)
      // Through the edge (acknowledged today; refused there once ingest refuses NUL), and straight into
      // Kafka (whatever the edge does), on the partitions of every ad, while the load goes on.
      const viaIngest = await sendHostileClicks(clickUrl(s), 20, ads)
      const direct = await produceHostileRecords(brokers, topic, 20, ads)
      const ackedAfterHostile = load.acknowledgedCount
      await pause(6000) // later clicks on the same partitions
      const result = await load.stop()
      const normal = { acknowledged: result.acknowledged.size, attempted: result.attempted.size }
      const hostile = new Set([...viaIngest.acknowledged.keys(), ...direct])
      const letters = await readDeadLetteredClicks(brokers, topic, hostile)
      for (const [id, ad] of viaIngest.acknowledged) {
        result.acknowledged.set(id, ad)
        result.attempted.add(id)
      }
      const row = await s.verify(result, new Set([...hostile].filter((id) => letters.has(id))))
      rows.push(row)
      expectExactlyOnce(row)
      expect(row.deadLettered, 'hostile records on the dead-letter topic').toBe(hostile.size)
      const reasons = [...letters.values()]
      expect(reasons.every((r) => /^postgres 22\w{3}: |^does not match ClickMessage/.test(r))).toBe(true)
      expect(
        reasons.filter((r) => /^postgres 2200[78]: /.test(r)),
        'year 0, refused by Postgres',
      ).toHaveLength(direct.length / 2)
      // Every normal click was acknowledged and is in Postgres, those sent after the hostile ones too.
      expect(normal.acknowledged, 'normal clicks never acknowledged').toBe(normal.attempted)
      expect(row.inPostgres).toBe(normal.acknowledged)
      expect(result.acknowledgedEvents.size, 'pixels never acknowledged').toBe(result.attemptedEvents.size)
      expect(row.eventsInPostgres).toBe(row.acknowledgedEvents)
      expectTheMix(result)
      expect(
        normal.acknowledged - ackedAfterHostile,
        'clicks acknowledged after the hostile ones',
      ).toBeGreaterThan(100)
    } finally {
      await s.close()
    }
  })
})
