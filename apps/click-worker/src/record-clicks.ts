import { type ClickMessage, type InvalidReason, viewerId } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { type ClassifyRules, classifyClicks } from './classify.js'
import type { DeadLetterSink } from './dead-letters.js'
import { decodeClick } from './decode.js'
import { insertClicks, viewerHistory } from './postgres-store.js'
import type { RedisCounters } from './redis-store.js'
import { inStore, RefusedByStoreError, type StoreName } from './store-errors.js'

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
  /** Valid records that a store refused for their content; they are on the dead-letter topic. */
  refused: (Rejected & { store: StoreName })[]
}

/**
 * The worker's whole per-batch job, as a function of the records and the stores: validate (invalid
 * records to the dead-letter topic), classify invalid traffic, write Postgres (the source of truth),
 * then Redis, and say which offset is now safe to commit. Records a store refuses for their content
 * go to the dead-letter topic too, with the store's reason; the rest are counted.
 * Running it twice on the same records changes nothing the second time.
 */
export async function recordClicks(batch: PartitionBatch, stores: ClickStores): Promise<BatchOutcome | null> {
  const last = batch.records.at(-1)
  if (!last) return null
  const valid: ValidRecord[] = []
  const rejected: Rejected[] = []
  for (const record of batch.records) {
    const decoded = decodeClick(record.value)
    const key = record.key ?? null
    if (decoded.ok)
      valid.push({
        click: decoded.click,
        offset: record.offset,
        viewerId: viewerId(decoded.click),
        key,
        value: record.value,
      })
    else rejected.push({ offset: record.offset, reason: decoded.reason, key, value: record.value })
  }
  // A poison record must never block its partition: park it, with why, before moving past it.
  await inStore('kafka', () =>
    stores.deadLetters.send(rejected.map((r) => ({ ...r, topic: batch.topic, partition: batch.partition }))),
  )
  const refused: BatchOutcome['refused'] = []
  const owned = await storeIsolatingRefused(batch, valid, last.offset, stores, refused)
  const invalid: Record<string, number> = {}
  for (const v of owned) if (v.reason) invalid[v.reason] = (invalid[v.reason] ?? 0) + 1
  return {
    lastOffset: last.offset,
    counted: owned.filter((v) => !v.reason).length,
    invalid,
    duplicates: valid.length - owned.length - refused.length,
    rejected,
    refused,
  }
}

interface ValidRecord {
  click: ClickMessage
  offset: string
  viewerId: string
  key: Buffer | null
  value: Buffer | null
}
type OwnedRecord = ValidRecord & { reason: InvalidReason | null }

/**
 * Stores `clicks` (in offset order) and raises the partition's Redis mark to `markOffset`; when a store
 * refuses them for their content, halves them until the refused records stand alone, sends each of
 * those to the dead-letter topic and stores the rest. Returns the records that own their click.
 * TRICKY: the halves run in order, and each raises the Redis mark only to its own last offset, so the
 * mark never passes a record that is not yet applied; a refused record is on the dead-letter topic
 * before any later half moves the mark past it. On redelivery the same records fail the same way
 * (Postgres holds none of them) and go the same way; the others are no-ops in both stores.
 * A transient error in any half propagates: nothing is committed and the whole batch is retried.
 */
async function storeIsolatingRefused(
  batch: PartitionBatch,
  clicks: ValidRecord[],
  markOffset: string,
  stores: ClickStores,
  refused: BatchOutcome['refused'],
): Promise<OwnedRecord[]> {
  try {
    return await storeClicks(batch, clicks, markOffset, stores)
  } catch (err) {
    if (!(err instanceof RefusedByStoreError) || clicks.length === 0) throw err
    const [only] = clicks
    if (clicks.length === 1 && only) {
      const letter = { offset: only.offset, reason: err.reason, key: only.key, value: only.value }
      await inStore('kafka', () =>
        stores.deadLetters.send([{ ...letter, topic: batch.topic, partition: batch.partition }]),
      )
      refused.push({ ...letter, store: err.store })
      // The record is handled: move the mark past it, as for a batch with nothing to count.
      // NOTE: a refusal by Redis leaves the click in Postgres, the source of truth, which reconciliation
      // copies to Redis; on redelivery the record is below the mark and Redis skips it.
      await inStore('redis', () => stores.counters.apply(batch.topic, batch.partition, markOffset, []))
      return []
    }
    const half = Math.ceil(clicks.length / 2)
    const head = clicks.slice(0, half)
    const headMark = head.at(-1)?.offset ?? markOffset
    const first = await storeIsolatingRefused(batch, head, headMark, stores, refused)
    const rest = await storeIsolatingRefused(batch, clicks.slice(half), markOffset, stores, refused)
    return [...first, ...rest]
  }
}

/** Classifies, writes Postgres then Redis; every record up to `markOffset` is then applied. */
async function storeClicks(
  batch: PartitionBatch,
  valid: ValidRecord[],
  markOffset: string,
  stores: ClickStores,
): Promise<OwnedRecord[]> {
  const history = valid.length
    ? await inStore('postgres', () => viewerHistory(stores.sql, valid, stores.rules.repeatWindowMs))
    : { perHour: new Map(), lastClick: new Map(), activeAds: new Set<string>() }
  const verdicts = classifyClicks(valid, history, stores.rules)
  const stored = await inStore('postgres', () =>
    insertClicks(
      stores.sql,
      valid.map((v, i) => ({
        click: v.click,
        offset: v.offset,
        viewerId: v.viewerId,
        partition: batch.partition,
        reason: verdicts[i]?.reason ?? null,
      })),
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
      markOffset,
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
  return owned
}
