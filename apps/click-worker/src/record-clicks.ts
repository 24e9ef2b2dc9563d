import { createHash } from 'node:crypto'
import type { ClickMessage } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { type ClassifyRules, classifyClicks } from './classify.js'
import type { DeadLetterSink } from './dead-letters.js'
import { decodeClick } from './decode.js'
import { insertClicks, viewerHistory } from './postgres-store.js'
import type { RedisCounters } from './redis-store.js'

/** A failure of one of the stores a batch is written to; the worker counts these by store. */
export class StoreError extends Error {
  constructor(
    readonly store: 'postgres' | 'redis' | 'kafka',
    cause: unknown,
  ) {
    super(`${store}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'StoreError'
  }
}

async function inStore<T>(store: StoreError['store'], work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw new StoreError(store, err)
  }
}

export interface KafkaRecord {
  offset: string
  key?: Buffer | null
  value: Buffer | null
}

export interface PartitionBatch {
  topic: string
  partition: number
  records: KafkaRecord[]
}

export interface ClickStores {
  sql: Sql
  counters: RedisCounters
  deadLetters: DeadLetterSink
  rules: ClassifyRules
}

export interface Rejected {
  offset: string
  reason: string
  key: Buffer | null
  value: Buffer | null
}

export interface BatchOutcome {
  /** Offset to commit: every record up to it is held by Postgres and Redis. */
  lastOffset: string
  /** Records that own their click and were counted as valid (or had been, on an earlier delivery). */
  counted: number
  /** Records that own their click and were stored as invalid traffic, by reason. */
  invalid: Record<string, number>
  /** Valid records whose click id another record already owns (client retries, producer resends). */
  duplicates: number
  /** Records that failed validation; they are on the dead-letter topic. */
  rejected: Rejected[]
}

/** A viewer is the player's viewer_id, or else its IP and user agent, hashed (short, and no raw IP). */
export const viewerIdOf = (ip: string, userAgent: string): string =>
  createHash('sha1').update(`${ip}\u0000${userAgent}`).digest('base64url').slice(0, 16)
export const viewerId = (click: ClickMessage): string =>
  click.viewer_id ? `v:${click.viewer_id}` : viewerIdOf(click.ip, click.user_agent)

/**
 * The worker's whole per-batch job, as a function of the records and the stores: validate (invalid
 * records to the dead-letter topic), classify invalid traffic, write Postgres (the source of truth),
 * then Redis, and say which offset is now safe to commit.
 * Running it twice on the same records changes nothing the second time.
 */
export async function recordClicks(batch: PartitionBatch, stores: ClickStores): Promise<BatchOutcome | null> {
  const last = batch.records.at(-1)
  if (!last) return null
  const valid: { click: ClickMessage; offset: string; viewerId: string }[] = []
  const rejected: Rejected[] = []
  for (const record of batch.records) {
    const decoded = decodeClick(record.value)
    if (decoded.ok)
      valid.push({ click: decoded.click, offset: record.offset, viewerId: viewerId(decoded.click) })
    else
      rejected.push({
        offset: record.offset,
        reason: decoded.reason,
        key: record.key ?? null,
        value: record.value,
      })
  }
  // A poison record must never block its partition: park it, with why, before moving past it.
  await stores.deadLetters.send(
    rejected.map((r) => ({ ...r, topic: batch.topic, partition: batch.partition })),
  )

  const history = valid.length
    ? await inStore('postgres', () => viewerHistory(stores.sql, valid, stores.rules.repeatWindowMs))
    : { perHour: new Map(), lastClick: new Map(), activeAds: new Set<string>() }
  const verdicts = classifyClicks(valid, history, stores.rules)
  const stored = await inStore('postgres', () =>
    insertClicks(
      stores.sql,
      valid.map((v, i) => ({ ...v, partition: batch.partition, reason: verdicts[i]?.reason ?? null })),
    ),
  )
  const owned = valid.flatMap((v) => {
    const row = stored.get(v.click.click_id)
    return row && row.owner === `${batch.partition}:${v.offset}` ? [{ ...v, reason: row.reason }] : []
  })

  await inStore('redis', () =>
    stores.counters.apply(
      batch.topic,
      batch.partition,
      last.offset,
      owned.map((v) => ({
        offset: v.offset,
        adId: v.click.ad_id,
        viewerId: v.viewerId,
        reason: v.reason,
        playbackTime: v.click.playback_time,
        minute: Math.floor(Date.parse(v.click.received_at) / 60_000),
      })),
    ),
  )
  const invalid: Record<string, number> = {}
  for (const v of owned) if (v.reason) invalid[v.reason] = (invalid[v.reason] ?? 0) + 1
  return {
    lastOffset: last.offset,
    counted: owned.filter((v) => !v.reason).length,
    invalid,
    duplicates: valid.length - owned.length,
    rejected,
  }
}
