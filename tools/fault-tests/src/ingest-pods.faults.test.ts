import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePort, startGateway } from '@adtrack/local-stack'
import type { RunningService } from '@adtrack/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emptyLoadResult, type LoadResult, PlayerLoad } from './load.js'
import { FaultRig, type Scenario } from './rig.js'

// ingest-api as a platform runs it: several pods behind one load balancer that routes only to the pods
// whose /readyz says ready, scaled up and down while Kafka is away. Real processes (the built dist), a
// real broker killed and started again, nginx with the gateway's own template, a click-worker writing
// PostgreSQL and Redis; then the promise is checked as in the fault suite: every acknowledged click is
// in PostgreSQL exactly once, and Redis agrees.
let rig: FaultRig
let work: string
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
const replaySpoolCli = fileURLToPath(
  new URL('../../../apps/ingest-api/dist/replay-spool.js', import.meta.url),
)

beforeAll(async () => {
  rig = await FaultRig.start()
  work = await mkdtemp(join(tmpdir(), 'adtrack-ingest-pods-'))
})

afterAll(async () => {
  await rig?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

/**
 * What a Kubernetes Service does with readiness, between the gateway and the pods (kube-proxy's part):
 * each new TCP connection goes to the next pod, round-robin, among those whose /readyz last answered 200
 * (asked every 250 ms); with none ready the connection is refused, and nginx answers 502, as an Ingress
 * with no endpoint answers 503. Stricter than Kubernetes: one failed probe takes a pod out.
 */
class ReadyService {
  /** `<pod> <reply>` for every /readyz that did not answer 200. */
  readonly notReady: string[] = []
  /** Connections refused because no pod was ready. */
  refused = 0
  private readonly pods: { pod: RunningService; ready: boolean }[] = []
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private next = 0
  private polling: Promise<void> | undefined
  private stopped = false

  constructor() {
    this.server = createServer((client) => {
      const ready = this.pods.filter((p) => p.ready)
      const target = ready[this.next++ % Math.max(1, ready.length)]
      if (!target) {
        this.refused++
        client.destroy()
        return
      }
      const { hostname, port } = new URL(target.pod.httpUrl)
      const upstream = connect(Number(port), hostname)
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('close', () => this.sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
  }

  /** Listens on a free port; returns host:port for the gateway's INGEST_API_ADDR. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.polling = (async () => {
      while (!this.stopped) {
        await Promise.all(this.pods.map((p) => this.probe(p)))
        await pause(250)
      }
    })()
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** A pod joins once its first probe answers 200, as a new endpoint does. */
  async add(pod: RunningService): Promise<void> {
    const entry = { pod, ready: false }
    await this.probe(entry)
    this.pods.push(entry)
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.polling
    for (const socket of this.sockets) socket.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private async probe(entry: { pod: RunningService; ready: boolean }): Promise<void> {
    const { pod } = entry
    try {
      const res = await fetch(`${pod.metricsUrl}/readyz`, { signal: AbortSignal.timeout(1000) })
      const body = await res.text()
      entry.ready = res.status === 200
      if (!entry.ready) this.notReady.push(`${pod.httpUrl} ${res.status} ${body}`)
    } catch (err) {
      entry.ready = false
      this.notReady.push(`${pod.httpUrl} ${(err as Error).message}`)
    }
  }
}

/** The value of a counter or gauge (summed over its series) in a pod's /metrics. */
async function metric(pod: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${pod.metricsUrl}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

/** Clicks posted straight to one pod, 10 at a time; the acknowledged (202) ones are recorded in `load`. */
async function postClicks(pod: RunningService, count: number, load: LoadResult): Promise<void> {
  const ads = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']
  for (let i = 0; i < count; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const clickId = randomUUID()
        const adId = ads[(i + j) % ads.length] as string
        load.attempted.add(clickId)
        const res = await fetch(`${pod.httpUrl}/ads/click`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' },
          // A viewer per click: the worker's repeat and budget rules would make some invalid, which is
          // fine for counting, but a distinct viewer keeps every click a plain valid one.
          body: JSON.stringify({ ad_id: adId, playback_time: 5, click_id: clickId, viewer_id: clickId }),
        })
        await res.body?.cancel()
        if (res.status === 202) load.acknowledged.set(clickId, adId)
        else load.refusals.set(String(res.status), (load.refusals.get(String(res.status)) ?? 0) + 1)
      }),
    )
  }
}

/** Segment files left in a spool directory. */
const segments = async (dir: string) => (await readdir(dir)).filter((f) => f.startsWith('segment-'))

async function expectDeliveredOnce(s: Scenario, load: LoadResult): Promise<void> {
  const row = await s.verify(load)
  expect(row.clicks.lost, 'acknowledged clicks missing from Postgres').toBe(0)
  expect(row.clicks.duplicated, 'clicks counted twice in Redis').toBe(0)
  expect(row.clicks.redisDrift, 'Redis counts differing from Postgres').toBe(0)
  expect(row.clicks.phantom, 'clicks in Postgres nobody sent').toBe(0)
  expect(row.inPostgres).toBe(row.acknowledged)
}

describe('readiness: several ingest pods through a Kafka outage', () => {
  it('keep answering every click through the gateway, stay ready while they spool and replay, and a pod added during the outage joins', async () => {
    const s = await rig.scenario('ingest pods behind the gateway, kafka outage', {
      KAFKA_BREAKER_HALF_OPEN_AFTER: '1s',
    })
    try {
      const pods = await Promise.all([s.start('ingest-api'), s.start('ingest-api'), s.start('ingest-api')])
      await s.start('click-worker')
      const service = new ReadyService()
      const gateway = await startGateway({
        dir: join(work, 'gateway'),
        variables: {
          GATEWAY_PORT: String(await freePort()),
          INGEST_API_ADDR: await service.start(),
          // Nothing behind it: only the ingest routes are used.
          ANALYTICS_API_ADDR: `127.0.0.1:${await freePort()}`,
        },
        log: () => {},
      })
      for (const pod of pods) await service.add(pod)
      try {
        const load = new PlayerLoad(gateway.url, s.trackingKeys, {
          ratePerSecond: 80,
          maxRequests: 10_000,
          giveUpAfterMs: 60_000,
        }).start()
        await pause(3000)
        await rig.stack.kafka.kill('SIGKILL')
        await pause(3000)
        // The autoscaler adds a pod in the middle of the outage: it must become ready (startService waits
        // for its /readyz) and take its share, into its own spool.
        const added = await s.start('ingest-api')
        await service.add(added)
        await pause(3000)
        await rig.stack.kafka.start()
        // Every pod replays its spool while the load goes on; new clicks queue behind each backlog.
        await waitForSpoolsEmpty([...pods, added], 30_000)
        await pause(2000)
        const result = await load.stop()
        await service.stop()

        expect(Object.fromEntries(result.refusals), 'answers other than 2xx/302 through the gateway').toEqual(
          {},
        )
        expect(service.notReady, 'a pod left the Service').toEqual([])
        expect(service.refused, 'connections refused for want of a ready pod').toBe(0)
        // The outage really went through the spools: every pod spooled, and replayed. (The added pod was
        // ready mid-outage, or startService would have failed; whether nginx opened a connection to it
        // depends on how many its keep-alive pool needed.)
        for (const pod of pods) {
          expect(await metric(pod, 'spool_appended_total'), `${pod.httpUrl} spooled`).toBeGreaterThan(0)
          expect(await metric(pod, 'spool_replayed_total'), `${pod.httpUrl} replayed`).toBeGreaterThan(0)
        }
        await expectDeliveredOnce(s, result)
        expect(result.acknowledged.size, 'clicks never acknowledged').toBe(result.attempted.size)
        expect(result.acknowledgedEvents.size, 'pixels never acknowledged').toBe(result.attemptedEvents.size)
        const row = await s.verify(result)
        expect(row.eventsInPostgres).toBe(row.acknowledgedEvents)
        expect(row.events.lost + row.events.duplicated + row.events.redisDrift).toBe(0)
      } finally {
        await service.stop()
        await gateway.stop()
      }
    } finally {
      await s.close()
    }
  })
})

async function waitForSpoolsEmpty(pods: RunningService[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let left = 0
    for (const pod of pods) left += await metric(pod, 'spool_records')
    if (left === 0) return
    if (Date.now() > deadline) throw new Error(`${left} clicks still spooled after ${timeoutMs} ms`)
    await pause(250)
  }
}

describe('scale-down: no spool left behind', () => {
  it('SIGTERM while Kafka is down leaves the spool on the volume; replay-spool sends it once Kafka is back', async () => {
    const s = await rig.scenario('scale-down, kafka down: replay-spool', {
      SHUTDOWN_TIMEOUT: '6s',
      KAFKA_BREAKER_HALF_OPEN_AFTER: '1s',
    })
    try {
      const spoolDir = join(work, 'orphaned-spool')
      await s.start('click-worker')
      const pod = await s.start('ingest-api', { SPOOL_DIR: spoolDir })
      const load = emptyLoadResult()
      await postClicks(pod, 20, load)
      await rig.stack.kafka.kill('SIGKILL')
      await postClicks(pod, 150, load)
      expect(load.refusals.size, 'clicks refused while Kafka was down').toBe(0)
      expect(await metric(pod, 'spool_records')).toBeGreaterThan(0)

      // The scale-down: the pod gets SIGTERM and cannot drain (Kafka is still down).
      await pod.stop('SIGTERM')
      const left = /"records":(\d+)[^\n]*stopped with clicks still in the spool/.exec(pod.output())
      expect(left, pod.output().slice(-2000)).not.toBeNull()
      expect(Number(left?.[1])).toBeGreaterThan(0)
      expect((await segments(spoolDir)).length).toBeGreaterThan(0)

      await rig.stack.kafka.start()
      // The replay Job: the CLI on the volume no pod mounts any more.
      const replay = await promisify(execFile)(process.execPath, [replaySpoolCli], {
        env: { ...s.env, SPOOL_DIR: spoolDir, LOG_LEVEL: 'info', REPLAY_TIMEOUT: '60s' },
      })
      expect(replay.stdout).toMatch(new RegExp(`"replayed":${left?.[1]}\\b.*spool replayed to Kafka`))
      expect(await segments(spoolDir)).toEqual([])
      await expectDeliveredOnce(s, load)
      expect(load.acknowledged.size).toBe(170)
    } finally {
      await s.close()
    }
  })

  it('SIGTERM while Kafka is down, Kafka back within the grace period: the pod drains its spool before it exits', async () => {
    const s = await rig.scenario('scale-down, kafka back in the grace period', {
      SHUTDOWN_TIMEOUT: '40s',
      KAFKA_BREAKER_HALF_OPEN_AFTER: '1s',
    })
    try {
      const spoolDir = join(work, 'drained-spool')
      await s.start('click-worker')
      const pod = await s.start('ingest-api', { SPOOL_DIR: spoolDir, LOG_LEVEL: 'info' })
      const load = emptyLoadResult()
      await postClicks(pod, 20, load)
      await rig.stack.kafka.kill('SIGKILL')
      await postClicks(pod, 150, load)
      expect(load.refusals.size, 'clicks refused while Kafka was down').toBe(0)
      const spooled = await metric(pod, 'spool_records')
      expect(spooled).toBeGreaterThan(0)

      // SIGTERM first, so that the drain is the shutdown's, not the replay loop's of a running pod.
      const stopped = pod.stop('SIGTERM')
      await pause(1000)
      await rig.stack.kafka.start()
      expect(await stopped, pod.output().slice(-2000)).toBe(0)
      expect(pod.output()).toMatch(
        new RegExp(`"records":${spooled}\\b[^\\n]*draining the spool to Kafka before exiting`),
      )
      expect(pod.output()).toMatch(/spool empty at exit/)
      expect(await segments(spoolDir)).toEqual([])
      await expectDeliveredOnce(s, load)
    } finally {
      await s.close()
    }
  })
})
