import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisKeys } from '@adtrack/contracts'
import { createSql, migrate, type Sql, seedDemoAds } from '@adtrack/db'
import { freeStackPorts, type Stack, startStack } from '@adtrack/local-stack'
import {
  type RunningService,
  type ServiceName,
  startService,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import { Redis } from 'ioredis'
import type { LoadResult } from './load.js'

export interface ScenarioRow {
  scenario: string
  acknowledged: number
  inPostgres: number
  redisDrift: number
  lost: number
  duplicated: number
  /** Records of the scenario on the dead-letter topic (refused by the contract or by a store). */
  deadLettered: number
}

/**
 * A stack of its own (the fault suite kills its processes, so it cannot share the integration tests'
 * one), and per scenario a fresh database, topic, consumer group and Redis key prefix.
 */
export class FaultRig {
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

  /**
   * Waits for the pipeline to settle, then compares what the load was promised (2xx) with what the
   * stores hold. Lost: acknowledged but neither in Postgres nor on the dead-letter topic (`deadLettered`:
   * the click ids found there, with the store's reason). Duplicated: counted more than once in Redis.
   * Drift: |Redis - Postgres| summed over ads.
   */
  async verify(
    load: LoadResult,
    deadLettered: ReadonlySet<string> = new Set(),
  ): Promise<ScenarioRow & { phantom: number; unacknowledgedStored: number }> {
    const acked = load.acknowledged
    const expected = [...acked.keys()].filter((id) => !deadLettered.has(id)).length
    await waitFor(
      async () => {
        const [row] = await this.sql<
          { n: number }[]
        >`select count(*)::int as n from clicks where click_id = any(${[...acked.keys()]})`
        return (row?.n ?? 0) >= expected ? true : undefined
      },
      { timeoutMs: 90_000, intervalMs: 500, what: `${expected} acknowledged clicks in Postgres` },
    ).catch(() => undefined) // a loss is reported by the row below, not as a timeout
    // Per ad and kind (valid, or each invalid reason): what Postgres holds and what Redis says.
    const pgCounts = async () =>
      new Map(
        (
          await this.sql<{ ad_id: string; kind: string; n: number }[]>`
            select ad_id, coalesce(invalid_reason, 'valid') as kind, count(*)::int as n from clicks group by 1, 2`
        ).map((r) => [`${r.ad_id}/${r.kind}`, r.n]),
      )
    let drift = 0
    let duplicated = 0
    await this.redis.connect().catch(() => {})
    await waitFor(
      async () => {
        const pg = await pgCounts()
        const keys = redisKeys(this.prefix)
        drift = 0
        duplicated = 0
        for (const ad of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']) {
          const invalid = await this.redis.hgetall(keys.invalid(ad))
          const redisCounts: [string, number][] = [
            ['valid', Number((await this.redis.get(keys.clickCount(ad))) ?? 0)],
            ...['bot', 'repeat', 'over_budget', 'inactive_ad'].map((r): [string, number] => [
              r,
              Number(invalid[r] ?? 0),
            ]),
          ]
          for (const [kind, redisCount] of redisCounts) {
            const diff = redisCount - (pg.get(`${ad}/${kind}`) ?? 0)
            drift += Math.abs(diff)
            duplicated += Math.max(0, diff)
          }
        }
        return drift === 0 ? true : undefined
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'Redis counts to equal Postgres counts' },
    ).catch(() => undefined)
    const stored = new Set(
      (await this.sql<{ click_id: string }[]>`select click_id from clicks`).map((r) => r.click_id),
    )
    const lost = [...acked.keys()].filter((id) => !stored.has(id) && !deadLettered.has(id)).length
    const phantom = [...stored].filter((id) => !load.attempted.has(id)).length
    const unacknowledgedStored = [...stored].filter((id) => !acked.has(id)).length
    return {
      scenario: this.name,
      acknowledged: acked.size,
      inPostgres: stored.size,
      redisDrift: drift,
      lost,
      duplicated,
      deadLettered: deadLettered.size,
      phantom,
      unacknowledgedStored,
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop('SIGTERM')))
    this.redis.disconnect()
    await this.sql.end({ timeout: 5 })
  }
}

export function printTable(rows: ScenarioRow[]): string {
  const head = [
    'scenario',
    'acknowledged',
    'in Postgres',
    'Redis drift',
    'lost',
    'duplicated',
    'dead-lettered',
  ]
  const cells = rows.map((r) =>
    [r.scenario, r.acknowledged, r.inPostgres, r.redisDrift, r.lost, r.duplicated, r.deadLettered].map(
      String,
    ),
  )
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n')
}
