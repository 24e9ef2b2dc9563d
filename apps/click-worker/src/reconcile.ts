import { randomUUID } from 'node:crypto'
import {
  MINUTE_BUCKET_TTL_SECONDS,
  MINUTE_FIELDS,
  minuteErrorField,
  minuteEventField,
  type RedisKeys,
} from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Redis } from 'ioredis'

export interface AdDrift {
  adId: string
  /** Valid clicks Postgres holds that Redis should have applied. */
  postgres: number
  redis: number
  /** redis - postgres: positive is over-counting, negative under-counting. */
  drift: number
  /**
   * Which of the ad's counters disagreed: clicks, invalid (per reason), playback (sum), events (valid,
   * per type), invalid_events (per type), errors (valid, per code).
   */
  mismatched: string[]
  /** redis - postgres valid events, per event type that differed. */
  events: Record<string, number>
}

interface AdTotals {
  clicks: number
  playback: number
  invalid: Record<string, number>
  /** Valid events by type (impression, start … unmute, error). */
  events: Record<string, number>
  invalidEvents: Record<string, number>
  /** Valid error events by code, `unknown` without one. */
  errors: Record<string, number>
}

const noTotals = (): AdTotals => ({
  clicks: 0,
  playback: 0,
  invalid: {},
  events: {},
  invalidEvents: {},
  errors: {},
})
const bump = (counts: Record<string, number>, key: string, n: number) => {
  counts[key] = (counts[key] ?? 0) + n
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
 * Recomputes Redis click and event counts and unique viewers from Postgres, the source of truth, reports
 * the drift per ad and (unless repair is false) repairs it.
 *
 * TRICKY: the worker keeps writing while this runs. Postgres may hold clicks that Redis has not applied
 * yet (the worker writes Postgres first), and those must not be added here or the worker would add them
 * again. So: take the lock that makes the worker's Redis script wait, read each partition's
 * applied-offset mark, and count only the Postgres rows owned by records at or below the mark: exactly
 * the clicks and events Redis should hold at this instant. Rows above the mark are the worker's to apply.
 * Events come from ad_events rather than the event_minutes rollup: only rows know their Kafka position.
 * After Redis lost its data a partition has no mark: it gets Postgres's highest offset for that
 * partition (every record up to it has been through Postgres, since a partition's batches are written
 * in order), so the whole history is restored here and the worker skips it if it comes again.
 * NOTE: clicks and ad_events rows record partition and offset but not the topic; one database serves one
 * topic.
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
    const expected = await postgresTotals(sql, partitions, offsets)
    const actual = await redisTotals(redis, keys)
    const drifted: AdDrift[] = []
    for (const adId of new Set([...expected.keys(), ...actual.keys()])) {
      const pg = expected.get(adId) ?? noTotals()
      const rd = actual.get(adId) ?? noTotals()
      const mismatched = [
        pg.clicks !== rd.clicks && 'clicks',
        !sameCounts(pg.invalid, rd.invalid) && 'invalid',
        pg.playback !== rd.playback && 'playback',
        !sameCounts(pg.events, rd.events) && 'events',
        !sameCounts(pg.invalidEvents, rd.invalidEvents) && 'invalid_events',
        !sameCounts(pg.errors, rd.errors) && 'errors',
      ].filter((m): m is string => m !== false)
      if (mismatched.length) {
        const events: Record<string, number> = {}
        for (const type of new Set([...Object.keys(pg.events), ...Object.keys(rd.events)])) {
          const diff = (rd.events[type] ?? 0) - (pg.events[type] ?? 0)
          if (diff !== 0) events[type] = diff
        }
        drifted.push({
          adId,
          postgres: pg.clicks,
          redis: rd.clicks,
          drift: rd.clicks - pg.clicks,
          mismatched,
          events,
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

/** What Redis should hold per ad: Postgres's clicks and events owned by records at or below the marks. */
async function postgresTotals(
  sql: Sql,
  partitions: number[],
  offsets: string[],
): Promise<Map<string, AdTotals>> {
  const [clickRows, eventRows] = await Promise.all([
    sql<{ ad_id: string; reason: string | null; n: number; playback: string }[]>`
      select c.ad_id, c.invalid_reason as reason, count(*)::int as n, sum(c.playback_time)::text as playback
      from clicks c
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
      group by 1, 2`,
    sql<{ ad_id: string; event: string; invalid: boolean; error_code: number | null; n: number }[]>`
      select e.ad_id, e.event, e.invalid_reason is not null as invalid, e.error_code, count(*)::int as n
      from ad_events e
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on e.kafka_partition = m.kafka_partition and e.kafka_offset <= m.applied
      group by 1, 2, 3, 4`,
  ])
  const expected = new Map<string, AdTotals>()
  const of = (adId: string) => {
    const totals = expected.get(adId) ?? noTotals()
    expected.set(adId, totals)
    return totals
  }
  for (const r of clickRows) {
    const totals = of(r.ad_id)
    if (r.reason === null) {
      totals.clicks = r.n
      totals.playback = Number(r.playback)
    } else totals.invalid[r.reason] = r.n
  }
  for (const r of eventRows) {
    const totals = of(r.ad_id)
    if (r.invalid) bump(totals.invalidEvents, r.event, r.n)
    else {
      bump(totals.events, r.event, r.n)
      // NOTE: the worker keeps a code only on error events (impression-events' errorCodeOf).
      if (r.event === 'error')
        bump(totals.errors, r.error_code === null ? 'unknown' : String(r.error_code), r.n)
    }
  }
  return expected
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
  // NOTE: clicks and events share a partition's offsets, so its highest is the higher of the two tables'.
  const highest = await sql<{ kafka_partition: number; max: string }[]>`
    select kafka_partition, max(max_offset)::text as max from (
      select kafka_partition, max(kafka_offset) as max_offset from clicks group by 1
      union all
      select kafka_partition, max(kafka_offset) from ad_events group by 1
    ) as highest group by 1`
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

/** Every ad's counters in Redis, found by scanning for its click, invalid and event keys. */
async function redisTotals(redis: Redis, keys: RedisKeys): Promise<Map<string, AdTotals>> {
  const adIds = new Set<string>()
  for (const [template, pattern] of [
    [keys.clickCount('\u0000'), keys.clickCountPattern()],
    [keys.invalid('\u0000'), keys.invalid('*')],
    [keys.events('\u0000'), keys.events('*')],
    [keys.invalidEvents('\u0000'), keys.invalidEvents('*')],
    [keys.errors('\u0000'), keys.errors('*')],
  ] as const) {
    const [head, tail] = template.split('\u0000') as [string, string]
    for (const key of await scanAll(redis, pattern))
      adIds.add(key.slice(head.length, key.length - tail.length))
  }
  const totals = new Map<string, AdTotals>()
  const ids = [...adIds]
  const numbers = (hash: unknown) =>
    Object.fromEntries(Object.entries((hash ?? {}) as Record<string, string>).map(([k, v]) => [k, Number(v)]))
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500)
    const read = redis.pipeline()
    for (const id of chunk)
      read
        .get(keys.clickCount(id))
        .get(keys.playbackSum(id))
        .hgetall(keys.invalid(id))
        .hgetall(keys.events(id))
        .hgetall(keys.invalidEvents(id))
        .hgetall(keys.errors(id))
    const results = (await read.exec()) ?? []
    chunk.forEach((id, j) => {
      const [clicks, playback, invalid, events, invalidEvents, errors] = results
        .slice(j * 6, j * 6 + 6)
        .map(([, value]) => value)
      totals.set(id, {
        clicks: Number(clicks ?? 0),
        playback: Number(playback ?? 0),
        invalid: numbers(invalid),
        events: numbers(events),
        invalidEvents: numbers(invalidEvents),
        errors: numbers(errors),
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
    const totals = expected.get(adId) ?? noTotals()
    fix.del(
      keys.clickCount(adId),
      keys.playbackSum(adId),
      keys.invalid(adId),
      keys.viewers(adId),
      keys.events(adId),
      keys.invalidEvents(adId),
      keys.errors(adId),
      keys.impressionViewers(adId),
    )
    if (totals.clicks) fix.set(keys.clickCount(adId), totals.clicks)
    if (totals.playback) fix.set(keys.playbackSum(adId), totals.playback)
    for (const [hash, counts] of [
      [keys.invalid(adId), totals.invalid],
      [keys.events(adId), totals.events],
      [keys.invalidEvents(adId), totals.invalidEvents],
      [keys.errors(adId), totals.errors],
    ] as const)
      if (Object.keys(counts).length) fix.hset(hash, counts)
  }
  await fix.exec()
  await rebuildMinutes(deps, adIds, partitions, offsets)
  // The HyperLogLogs of a drifted ad cannot be trusted either: rebuild them from the same valid rows.
  // NOTE: from the viewer id the worker stored, as the analytics API's Postgres counts read it.
  await addViewers(
    redis,
    sql<{ ad_id: string; viewer_id: string }[]>`
      select distinct c.ad_id, c.viewer_id
      from clicks c
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
      where c.ad_id = any(${adIds}::text[]) and c.invalid_reason is null and c.viewer_id is not null`,
    keys.viewers,
  )
  await addViewers(
    redis,
    sql<{ ad_id: string; viewer_id: string }[]>`
      select distinct e.ad_id, e.viewer_id
      from ad_events e
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on e.kafka_partition = m.kafka_partition and e.kafka_offset <= m.applied
      where e.ad_id = any(${adIds}::text[]) and e.event = 'impression' and e.invalid_reason is null`,
    keys.impressionViewers,
  )
}

async function addViewers(
  redis: Redis,
  query: { cursor(rows: number): AsyncIterable<{ ad_id: string; viewer_id: string }[]> },
  key: (adId: string) => string,
): Promise<void> {
  for await (const rows of query.cursor(5000)) {
    const byAd = new Map<string, string[]>()
    for (const r of rows) {
      const list = byAd.get(r.ad_id) ?? []
      list.push(r.viewer_id)
      byAd.set(r.ad_id, list)
    }
    const add = redis.pipeline()
    for (const [adId, ids] of byAd) add.pfadd(key(adId), ...ids)
    await add.exec()
  }
}

/**
 * Rebuilds a drifted ad's per-minute buckets (clicks' v and i, events' e:<event> and x:<code>) and its
 * top-ads and top-impressions scores over Redis's retention window.
 */
async function rebuildMinutes(
  deps: { sql: Sql; redis: Redis; keys: RedisKeys },
  adIds: string[],
  partitions: number[],
  offsets: string[],
): Promise<void> {
  const { sql, redis, keys } = deps
  const since = new Date(Date.now() - MINUTE_BUCKET_TTL_SECONDS * 1000)
  const [clickRows, eventRows] = await Promise.all([
    sql<{ ad_id: string; minute: string; v: number; i: number }[]>`
      select c.ad_id, (extract(epoch from date_trunc('minute', c.received_at)) / 60)::bigint::text as minute,
             count(*) filter (where c.invalid_reason is null)::int as v,
             count(*) filter (where c.invalid_reason is not null)::int as i
      from clicks c
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on c.kafka_partition = m.kafka_partition and c.kafka_offset <= m.applied
      where c.ad_id = any(${adIds}::text[]) and c.received_at >= ${since}
      group by 1, 2`,
    sql<{ ad_id: string; minute: string; event: string; error_code: number | null; n: number }[]>`
      select e.ad_id, (extract(epoch from date_trunc('minute', e.received_at)) / 60)::bigint::text as minute,
             e.event, e.error_code, count(*)::int as n
      from ad_events e
      join unnest(${partitions}::int[], ${offsets}::bigint[]) as m(kafka_partition, applied)
        on e.kafka_partition = m.kafka_partition and e.kafka_offset <= m.applied
      where e.ad_id = any(${adIds}::text[]) and e.received_at >= ${since} and e.invalid_reason is null
      group by 1, 2, 3, 4`,
  ])
  // One hash per (ad, minute), written whole: the fields of the worker's script, from the same rows.
  const buckets = new Map<string, { adId: string; minute: string; fields: Record<string, number> }>()
  const bucket = (adId: string, minute: string) => {
    const key = keys.minute(adId, minute)
    const found = buckets.get(key) ?? { adId, minute, fields: {} }
    buckets.set(key, found)
    return found.fields
  }
  for (const r of clickRows) {
    const fields = bucket(r.ad_id, r.minute)
    if (r.v) fields[MINUTE_FIELDS.validClicks] = r.v
    if (r.i) fields[MINUTE_FIELDS.invalidClicks] = r.i
  }
  for (const r of eventRows) {
    const fields = bucket(r.ad_id, r.minute)
    bump(fields, minuteEventField(r.event), r.n)
    if (r.event === 'error') bump(fields, minuteErrorField(r.error_code), r.n)
  }
  const stale = (await Promise.all(adIds.map((id) => scanAll(redis, keys.minute(id, '*'))))).flat()
  const tops = [
    ...(await scanAll(redis, keys.topMinute('*'))),
    ...(await scanAll(redis, keys.topImpressionsMinute('*'))),
  ]
  const fix = redis.multi()
  if (stale.length) fix.del(...stale)
  for (const top of tops) fix.zrem(top, ...adIds)
  for (const [key, { adId, minute, fields }] of buckets) {
    fix.hset(key, fields)
    fix.expire(key, MINUTE_BUCKET_TTL_SECONDS)
    for (const [top, score] of [
      [keys.topMinute(minute), fields[MINUTE_FIELDS.validClicks]],
      [keys.topImpressionsMinute(minute), fields[minuteEventField('impression')]],
    ] as const) {
      if (!score) continue
      fix.zadd(top, score, adId)
      fix.expire(top, MINUTE_BUCKET_TTL_SECONDS)
    }
  }
  await fix.exec()
}
