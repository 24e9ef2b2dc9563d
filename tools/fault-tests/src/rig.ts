import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisKeys } from '@adtrack/contracts'
import { createSql, migrate, type Sql, seedDemoAds } from '@adtrack/db'
import { freeStackPorts, type Stack, startStack } from '@adtrack/local-stack'
import { parseTrackingKeys, type TrackingKeys } from '@adtrack/service-runtime/impression-token'
import {
  type RunningService,
  type ServiceName,
  startService,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import { Redis } from 'ioredis'
import { eventKey, type LoadResult } from './load.js'

/** One row of the table. Drift, lost and duplicated count clicks and events together. */
export interface ScenarioRow {
  scenario: string
  /** Clicks acknowledged (POST /ads/click, and impressions' clicks: click-throughs and click pixels). */
  acknowledged: number
  /** Rows of `clicks`. */
  inPostgres: number
  /** (impression, event) pairs whose pixel got its 200. */
  acknowledgedEvents: number
  /** Rows of `ad_events`. */
  eventsInPostgres: number
  redisDrift: number
  lost: number
  duplicated: number
  /** Records of the scenario on the dead-letter topic (refused by the contract or by a store). */
  deadLettered: number
}

/** What verify found for clicks or for events alone. */
export interface Findings {
  lost: number
  duplicated: number
  redisDrift: number
  /** Stored, and never sent. */
  phantom: number
  /** Stored, and sent without an acknowledgement (a retry given up on: allowed, never expected here). */
  unacknowledgedStored: number
}

const ADS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']

/**
 * A stack of its own (the fault suite kills its processes, so it cannot share the integration tests'
 * one), and per scenario a fresh database, topic, consumer group and Redis key prefix.
 */
export class FaultRig {
  /** TRACKING_TOKEN_KEYS of every scenario's services: a fresh secret per run. */
  private readonly trackingKeys = `f1:${randomBytes(32).toString('base64url')}`

  private constructor(
    readonly stack: Stack,
    private readonly dataDir: string,
  ) {}

  static async start(): Promise<FaultRig> {
    const dataDir = await mkdtemp(join(tmpdir(), 'adtrack-faults-'))
    const stack = await startStack({
      dataDir,
      ports: await freeStackPorts(),
      log: (msg) => process.stderr.write(`[fault-stack] ${msg}\n`),
    })
    return new FaultRig(stack, dataDir)
  }

  async scenario(name: string, extraEnv: Record<string, string> = {}): Promise<Scenario> {
    const dbName = uniqueName('fault').toLowerCase()
    const admin = createSql(this.stack.postgres.url, { max: 1 })
    await admin.unsafe(`create database "${dbName}"`)
    await admin.end()
    const url = new URL(this.stack.postgres.url)
    url.pathname = `/${dbName}`
    const sql = createSql(url.toString(), { max: 4 })
    await migrate(sql)
    await seedDemoAds(sql)
    const prefix = `${uniqueName('f')}:`
    const env = {
      DATABASE_URL: url.toString(),
      REDIS_URL: this.stack.redis.url,
      KAFKA_BROKERS: this.stack.kafka.brokers.join(','),
      KAFKA_TOPIC: uniqueName('clicks'),
      KAFKA_TOPIC_PARTITIONS: '6',
      KAFKA_GROUP_ID: uniqueName('workers'),
      KAFKA_SESSION_TIMEOUT: '6s',
      REDIS_KEY_PREFIX: prefix,
      WRITE_TIMEOUT: '3s',
      AD_CATALOG_REFRESH: '1s',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '0', // the load comes from one address
      // The load mints impression tokens with the same keys, as analytics-api would for its VAST tags.
      TRACKING_TOKEN_KEYS: this.trackingKeys,
      ...extraEnv,
    }
    return new Scenario(name, sql, env, prefix)
  }

  async stop(): Promise<void> {
    await this.stack.stop()
    await rm(this.dataDir, { recursive: true, force: true })
  }
}

export class Scenario {
  readonly services: RunningService[] = []
  private readonly redis: Redis

  constructor(
    readonly name: string,
    readonly sql: Sql,
    readonly env: Record<string, string>,
    private readonly prefix: string,
  ) {
    this.redis = new Redis(env.REDIS_URL as string, { maxRetriesPerRequest: 1, lazyConnect: true })
    this.redis.on('error', () => {})
  }

  async start(name: ServiceName, env: Record<string, string> = {}): Promise<RunningService> {
    const service = await startService(name, { ...this.env, ...env })
    this.services.push(service)
    return service
  }

  service(name: ServiceName): RunningService {
    const found = this.services.filter((s) => s.name === name && s.process.exitCode === null).at(-1)
    if (!found) throw new Error(`no running ${name}`)
    return found
  }

  /** The TRACKING_TOKEN_KEYS the scenario's services hold, to mint impressions as analytics-api does. */
  get trackingKeys(): TrackingKeys {
    return parseTrackingKeys(this.env.TRACKING_TOKEN_KEYS as string)
  }

  /**
   * Waits for the pipeline to settle, then compares what the load was promised with what the stores hold,
   * for clicks (by click_id, impressions' clicks as `imp:<impression id>`) and for events (by impression
   * and event). Lost: acknowledged but neither in Postgres nor on the dead-letter topic (`deadLettered`:
   * the click ids found there, with the store's reason). Duplicated: counted in Redis more often than
   * Postgres holds it, per ad and click verdict or event type (Postgres's primary keys hold each click and
   * each (impression, event) once). Drift: |Redis - Postgres| summed over those counters and, for errors,
   * over each ad's counts by code.
   */
  async verify(
    load: LoadResult,
    deadLettered: ReadonlySet<string> = new Set(),
  ): Promise<ScenarioRow & { phantom: number; clicks: Findings; events: Findings }> {
    await this.waitForPostgres(load, deadLettered)
    await this.redis.connect().catch(() => {})
    let clickCounters = { drift: 0, duplicated: 0 }
    let eventCounters = { drift: 0, duplicated: 0 }
    await waitFor(
      async () => {
        clickCounters = compareCounters(await this.postgresClickCounts(), await this.redisClickCounts())
        eventCounters = compareCounters(await this.postgresEventCounts(), await this.redisEventCounts())
        return clickCounters.drift + eventCounters.drift === 0 ? true : undefined
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'Redis counts to equal Postgres counts' },
    ).catch(() => undefined) // drift is reported by the row below, not as a timeout

    const storedClicks = new Set(
      (await this.sql<{ click_id: string }[]>`select click_id from clicks`).map((r) => r.click_id),
    )
    const storedEvents = new Set(
      (
        await this.sql<{ impression_id: string; event: string }[]>`select impression_id, event from ad_events`
      ).map((r) => eventKey(r.impression_id, r.event)),
    )
    const clicks = findings(storedClicks, load.acknowledged, load.attempted, clickCounters, deadLettered)
    const events = findings(storedEvents, load.acknowledgedEvents, load.attemptedEvents, eventCounters)
    return {
      scenario: this.name,
      acknowledged: load.acknowledged.size,
      inPostgres: storedClicks.size,
      acknowledgedEvents: load.acknowledgedEvents.size,
      eventsInPostgres: storedEvents.size,
      redisDrift: clicks.redisDrift + events.redisDrift,
      lost: clicks.lost + events.lost,
      duplicated: clicks.duplicated + events.duplicated,
      deadLettered: deadLettered.size,
      phantom: clicks.phantom + events.phantom,
      clicks,
      events,
    }
  }

  /** Until Postgres holds every acknowledged click and event that was not dead-lettered, or 90 s pass. */
  private async waitForPostgres(load: LoadResult, deadLettered: ReadonlySet<string>): Promise<void> {
    const clickIds = [...load.acknowledged.keys()]
    const events = [...load.acknowledgedEvents.values()]
    const expected = clickIds.filter((id) => !deadLettered.has(id)).length + events.length
    await waitFor(
      async () => {
        const [row] = await this.sql<{ n: number }[]>`
          select (select count(*) from clicks where click_id = any(${clickIds}))
               + (select count(*) from ad_events where (impression_id, event) in (
                    select * from unnest(${events.map((e) => e.impressionId)}::text[],
                                         ${events.map((e) => e.event)}::text[])))
               as n`
        return Number(row?.n ?? 0) >= expected ? true : undefined
      },
      {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: `${expected} acknowledged clicks and events in Postgres`,
      },
    ).catch(() => undefined) // a loss is reported by the row, not as a timeout
  }

  /** Clicks per `<ad>/<verdict>` (valid, or each invalid reason). */
  private async postgresClickCounts(): Promise<Map<string, number>> {
    const rows = await this.sql<{ ad_id: string; kind: string; n: number }[]>`
      select ad_id, coalesce(invalid_reason, 'valid') as kind, count(*)::int as n from clicks group by 1, 2`
    return new Map(rows.map((r) => [`${r.ad_id}/${r.kind}`, r.n]))
  }

  private async redisClickCounts(): Promise<Map<string, number>> {
    const keys = redisKeys(this.prefix)
    const counts = new Map<string, number>()
    for (const ad of ADS) {
      counts.set(`${ad}/valid`, Number((await this.redis.get(keys.clickCount(ad))) ?? 0))
      for (const [reason, n] of Object.entries(await this.redis.hgetall(keys.invalid(ad))))
        counts.set(`${ad}/${reason}`, Number(n))
    }
    return counts
  }

  /**
   * Events per `events/<ad>/<type>` (valid), `invalidEvents/<ad>/<type>` (bots) and
   * `errors/<ad>/<code|unknown>` (valid errors), as the worker's Redis hashes name them.
   */
  private async postgresEventCounts(): Promise<Map<string, number>> {
    const rows = await this.sql<{ key: string; n: number }[]>`
      select case when invalid_reason is null then 'events/' else 'invalidEvents/' end
               || ad_id || '/' || event as key, count(*)::int as n
      from ad_events group by 1
      union all
      select 'errors/' || ad_id || '/' || coalesce(error_code::text, 'unknown'), count(*)::int
      from ad_events where event = 'error' and invalid_reason is null group by 1`
    return new Map(rows.map((r) => [r.key, r.n]))
  }

  private async redisEventCounts(): Promise<Map<string, number>> {
    const keys = redisKeys(this.prefix)
    const counts = new Map<string, number>()
    for (const ad of ADS) {
      for (const hash of ['events', 'invalidEvents', 'errors'] as const) {
        for (const [field, n] of Object.entries(await this.redis.hgetall(keys[hash](ad))))
          counts.set(`${hash}/${ad}/${field}`, Number(n))
      }
    }
    return counts
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop('SIGTERM')))
    this.redis.disconnect()
    await this.sql.end({ timeout: 5 })
  }
}

/**
 * Redis against Postgres over every counter either holds. Duplicated: what Redis has beyond Postgres;
 * an errors-by-code count is a breakdown of the `error` count, so it adds to the drift only.
 */
export function compareCounters(
  postgres: Map<string, number>,
  redis: Map<string, number>,
): { drift: number; duplicated: number } {
  let drift = 0
  let duplicated = 0
  for (const key of new Set([...postgres.keys(), ...redis.keys()])) {
    const diff = (redis.get(key) ?? 0) - (postgres.get(key) ?? 0)
    drift += Math.abs(diff)
    if (!key.startsWith('errors/')) duplicated += Math.max(0, diff)
  }
  return { drift, duplicated }
}

export function findings(
  stored: Set<string>,
  acknowledged: Map<string, unknown>,
  attempted: Set<string>,
  counters: { drift: number; duplicated: number },
  deadLettered: ReadonlySet<string> = new Set(),
): Findings {
  return {
    lost: [...acknowledged.keys()].filter((id) => !stored.has(id) && !deadLettered.has(id)).length,
    duplicated: counters.duplicated,
    redisDrift: counters.drift,
    phantom: [...stored].filter((id) => !attempted.has(id)).length,
    unacknowledgedStored: [...stored].filter((id) => !acknowledged.has(id)).length,
  }
}

export function printTable(rows: ScenarioRow[]): string {
  const head = [
    'scenario',
    'clicks acked',
    'clicks stored',
    'events acked',
    'events stored',
    'Redis drift',
    'lost',
    'duplicated',
    'dead-lettered',
  ]
  const cells = rows.map((r) =>
    [
      r.scenario,
      r.acknowledged,
      r.inPostgres,
      r.acknowledgedEvents,
      r.eventsInPostgres,
      r.redisDrift,
      r.lost,
      r.duplicated,
      r.deadLettered,
    ].map(String),
  )
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n')
}
