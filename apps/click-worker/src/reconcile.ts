import { randomUUID } from 'node:crypto'
import { MINUTE_BUCKET_TTL_SECONDS, type RedisKeys } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Redis } from 'ioredis'

export interface AdDrift {
  adId: string
  /** Valid clicks Postgres holds that Redis should have applied. */
  postgres: number
  redis: number
  /** redis - postgres: positive is over-counting, negative under-counting. */
  drift: number
  /** Which of the ad's counters disagreed: clicks, invalid (per reason), playback (sum). */
  mismatched: string[]
}

interface AdTotals {
  clicks: number
  playback: number
  invalid: Record<string, number>
}

export interface ReconcileResult {
  adsChecked: number
  drifted: AdDrift[]
  repaired: boolean
  durationMs: number
}

export class ReconcileBusyError extends Error {
  constructor() {
    super('another reconciliation holds the lock')
    this.name = 'ReconcileBusyError'
  }
}

const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`

/**
 * Recomputes Redis click counts and unique viewers from Postgres, the source of truth, reports the
 * drift per ad and (unless repair is false) repairs it.
 *
 * TRICKY: the worker keeps writing while this runs. Postgres may hold clicks that Redis has not applied
 * yet (the worker writes Postgres first), and those must not be added here or the worker would add them
 * again. So: take the lock that makes the worker's Redis script wait, read each partition's
 * applied-offset mark, and count only the Postgres rows owned by records at or below the mark: exactly
 * the clicks Redis should hold at this instant. Rows above the mark are the worker's to apply.
 * After Redis lost its data a partition has no mark: it gets Postgres's highest offset for that
 * partition (every record up to it has been through Postgres, since a partition's batches are written
 * in order), so the whole history is restored here and the worker skips it if it comes again.
 * NOTE: clicks rows record partition and offset but not the topic; one database serves one topic.
 */
export async function reconcileCounts(deps: {
  sql: Sql
  redis: Redis
  keys: RedisKeys
  topic: string
  repair?: boolean
  lockTtlMs?: number
}): Promise<ReconcileResult> {
  const started = Date.now()
  const { sql, redis, keys, topic } = deps
  const lockKey = keys.reconcileLock(topic)
  const token = randomUUID()
  const locked = await redis.set(lockKey, token, 'PX', deps.lockTtlMs ?? 120_000, 'NX')
  if (locked !== 'OK') throw new ReconcileBusyError()
  try {
    const marks = await appliedMarks(redis, keys, topic)
    await restoreLostMarks(sql, redis, keys, topic, marks)
    const partitions = [...marks.keys()]
    const offsets = partitions.map((p) => marks.get(p) as string)
    const pgRows = await sql<{ ad_id: string; reason: string | null; n: number; playback: string }[]>`
      select c.ad_id, c.invalid_reason as reason, count(*)::int as n, sum(c.playback_time)::text as playback
      from clicks c
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
      group by 1, 2`
    const expected = new Map<string, AdTotals>()
    for (const r of pgRows) {
      const totals = expected.get(r.ad_id) ?? { clicks: 0, playback: 0, invalid: {} }
      if (r.reason === null) {
        totals.clicks = r.n
        totals.playback = Number(r.playback)
      } else totals.invalid[r.reason] = r.n
      expected.set(r.ad_id, totals)
    }
    const actual = await redisTotals(redis, keys)
    const drifted: AdDrift[] = []
    for (const adId of new Set([...expected.keys(), ...actual.keys()])) {
      const pg = expected.get(adId) ?? { clicks: 0, playback: 0, invalid: {} }
      const rd = actual.get(adId) ?? { clicks: 0, playback: 0, invalid: {} }
      const mismatched = [
        pg.clicks !== rd.clicks && 'clicks',
        !sameCounts(pg.invalid, rd.invalid) && 'invalid',
        pg.playback !== rd.playback && 'playback',
      ].filter((m): m is string => m !== false)
      if (mismatched.length) {
        drifted.push({
          adId,
          postgres: pg.clicks,
          redis: rd.clicks,
          drift: rd.clicks - pg.clicks,
          mismatched,
        })
      }
    }
    const repair = deps.repair ?? true
    if (repair && drifted.length > 0) {
      await repairAds(deps, drifted, expected, partitions, offsets)
    }
    return { adsChecked: expected.size, drifted, repaired: repair, durationMs: Date.now() - started }
  } finally {
    await redis.eval(RELEASE_SCRIPT, 1, lockKey, token)
  }
}

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    found.push(...batch)
  } while (cursor !== '0')
  return found
}

async function appliedMarks(redis: Redis, keys: RedisKeys, topic: string): Promise<Map<number, string>> {
  const markKeys = await scanAll(redis, keys.appliedOffsetPattern(topic))
  const values = markKeys.length ? await redis.mget(markKeys) : []
  const prefix = keys.appliedOffset(topic, 0).slice(0, -1)
  const marks = new Map<number, string>()
  markKeys.forEach((key, i) => {
    const value = values[i]
    if (value !== null && value !== undefined) marks.set(Number(key.slice(prefix.length)), value)
  })
  return marks
}

async function restoreLostMarks(
  sql: Sql,
  redis: Redis,
  keys: RedisKeys,
  topic: string,
  marks: Map<number, string>,
): Promise<void> {
  const highest = await sql<{ kafka_partition: number; max: string }[]>`
    select kafka_partition, max(kafka_offset)::text as max from clicks group by kafka_partition`
  for (const { kafka_partition, max } of highest) {
    if (marks.has(kafka_partition)) continue
    // NX: a worker batch may have set the mark since it was read; its value then stands.
    await redis.set(keys.appliedOffset(topic, kafka_partition), max, 'NX')
    marks.set(kafka_partition, (await redis.get(keys.appliedOffset(topic, kafka_partition))) ?? max)
  }
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0))
}

/** Every ad's counters in Redis, found by scanning for its click-count and invalid keys. */
async function redisTotals(redis: Redis, keys: RedisKeys): Promise<Map<string, AdTotals>> {
  const adIds = new Set<string>()
  for (const [template, pattern] of [
    [keys.clickCount('\u0000'), keys.clickCountPattern()],
    [keys.invalid('\u0000'), keys.invalid('*')],
  ] as const) {
    const [head, tail] = template.split('\u0000') as [string, string]
    for (const key of await scanAll(redis, pattern))
      adIds.add(key.slice(head.length, key.length - tail.length))
  }
  const totals = new Map<string, AdTotals>()
  const ids = [...adIds]
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500)
    const read = redis.pipeline()
    for (const id of chunk) read.get(keys.clickCount(id)).get(keys.playbackSum(id)).hgetall(keys.invalid(id))
    const results = (await read.exec()) ?? []
    chunk.forEach((id, j) => {
      const [clicks, playback, invalid] = results.slice(j * 3, j * 3 + 3).map(([, value]) => value)
      totals.set(id, {
        clicks: Number(clicks ?? 0),
        playback: Number(playback ?? 0),
        invalid: Object.fromEntries(
          Object.entries((invalid ?? {}) as Record<string, string>).map(([k, v]) => [k, Number(v)]),
        ),
      })
    })
  }
  return totals
}

async function repairAds(
  deps: { sql: Sql; redis: Redis; keys: RedisKeys },
  drifted: AdDrift[],
  expected: Map<string, AdTotals>,
  partitions: number[],
  offsets: string[],
): Promise<void> {
  const { sql, redis, keys } = deps
  const adIds = drifted.map((d) => d.adId)
  const fix = redis.multi()
  for (const { adId } of drifted) {
    const totals = expected.get(adId) ?? { clicks: 0, playback: 0, invalid: {} }
    fix.del(keys.clickCount(adId), keys.playbackSum(adId), keys.invalid(adId), keys.viewers(adId))
    if (totals.clicks) fix.set(keys.clickCount(adId), totals.clicks)
    if (totals.playback) fix.set(keys.playbackSum(adId), totals.playback)
    for (const [reason, n] of Object.entries(totals.invalid)) fix.hset(keys.invalid(adId), reason, n)
  }
  await fix.exec()
  await rebuildMinutes(deps, adIds, partitions, offsets)
  // The HyperLogLog of a drifted ad cannot be trusted either: rebuild it from the same valid rows.
  // NOTE: from the viewer id the worker stored, as the analytics API's Postgres counts read it.
  const viewers = sql<{ ad_id: string; viewer_id: string }[]>`
    select distinct c.ad_id, c.viewer_id
    from clicks c
    join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
      on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
    where c.ad_id = any(${adIds}::text[]) and c.invalid_reason is null and c.viewer_id is not null`
  for await (const rows of viewers.cursor(5000)) {
    const byAd = new Map<string, string[]>()
    for (const r of rows) {
      const list = byAd.get(r.ad_id) ?? []
      list.push(r.viewer_id)
      byAd.set(r.ad_id, list)
    }
    const add = redis.pipeline()
    for (const [adId, ids] of byAd) add.pfadd(keys.viewers(adId), ...ids)
    await add.exec()
  }
}

/** Rebuilds a drifted ad's per-minute buckets and its top-ads scores over Redis's retention window. */
async function rebuildMinutes(
  deps: { sql: Sql; redis: Redis; keys: RedisKeys },
  adIds: string[],
  partitions: number[],
  offsets: string[],
): Promise<void> {
  const { sql, redis, keys } = deps
  const since = new Date(Date.now() - MINUTE_BUCKET_TTL_SECONDS * 1000)
  const rows = await sql<{ ad_id: string; minute: string; v: number; i: number }[]>`
    select c.ad_id, (extract(epoch from date_trunc('minute', c.received_at)) / 60)::bigint::text as minute,
           count(*) filter (where c.invalid_reason is null)::int as v,
           count(*) filter (where c.invalid_reason is not null)::int as i
    from clicks c
    join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
      on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
    where c.ad_id = any(${adIds}::text[]) and c.received_at >= ${since}
    group by 1, 2`
  const stale = (await Promise.all(adIds.map((id) => scanAll(redis, keys.minute(id, '*'))))).flat()
  const tops = await scanAll(redis, keys.topMinute('*'))
  const fix = redis.multi()
  if (stale.length) fix.del(...stale)
  for (const top of tops) fix.zrem(top, ...adIds)
  for (const r of rows) {
    const bucket = keys.minute(r.ad_id, r.minute)
    if (r.v) {
      fix.hset(bucket, 'v', r.v)
      fix.zadd(keys.topMinute(r.minute), r.v, r.ad_id)
      fix.expire(keys.topMinute(r.minute), MINUTE_BUCKET_TTL_SECONDS)
    }
    if (r.i) fix.hset(bucket, 'i', r.i)
    fix.expire(bucket, MINUTE_BUCKET_TTL_SECONDS)
  }
  await fix.exec()
}
