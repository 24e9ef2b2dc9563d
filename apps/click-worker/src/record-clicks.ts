import { type AdEvent, type ClickMessage, type EventMessage, viewerId } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { type ClassifyRules, classifyClicks, eventInvalidReason } from './classify.js'
import type { DeadLetterSink } from './dead-letters.js'
import { decodeRecord } from './decode.js'
import { clickOfEvent, epochMinute, errorCodeOf } from './impression-events.js'
import { eventKey, insertClicks, insertEvents, viewerHistory } from './postgres-store.js'
import type { OwnedClick, OwnedEvent, RedisCounters } from './redis-store.js'
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

/** What became of an event record (version 2), by its type; a click event is also among the clicks. */
export type EventOutcome = 'counted' | 'invalid' | 'duplicate' | 'refused'
export type EventTally = Partial<Record<AdEvent, Partial<Record<EventOutcome, number>>>>

export interface BatchOutcome {
  /** Offset to commit: every record up to it is held by Postgres and Redis. */
  lastOffset: string
  /**
   * Clicks (version 1 records and `click` events) that own their click and were counted as valid (or
   * had been, on an earlier delivery).
   */
  counted: number
  /** Clicks that own their click and were stored as invalid traffic, by reason. */
  invalid: Record<string, number>
  /** Valid clicks whose click id another record already owns (client retries, producer resends). */
  duplicates: number
  /** Event records (version 2, clicks included) by type and outcome. */
  events: EventTally
  /** Records that failed validation; they are on the dead-letter topic. */
  rejected: Rejected[]
  /** Valid records that a store refused for their content; they are on the dead-letter topic. */
  refused: (Rejected & { store: StoreName; click: boolean; event?: AdEvent })[]
}

/**
 * The worker's whole per-batch job, as a function of the records and the stores: validate (invalid
 * records to the dead-letter topic), classify invalid traffic, write Postgres (the source of truth),
 * then Redis, and say which offset is now safe to commit. Records a store refuses for their content
 * go to the dead-letter topic too, with the store's reason; the rest are counted.
 * A record is a click (version 1) or an event (version 2); an event of type `click` is a click, under
 * its impression's click id, and every other event is a row of ad_events.
 * Running it twice on the same records changes nothing the second time.
 */
export async function recordClicks(batch: PartitionBatch, stores: ClickStores): Promise<BatchOutcome | null> {
  const last = batch.records.at(-1)
  if (!last) return null
  const valid: ValidRecord[] = []
  const rejected: Rejected[] = []
  for (const record of batch.records) {
    const decoded = decodeRecord(record.value)
    const key = record.key ?? null
    if (!decoded.ok) {
      rejected.push({ offset: record.offset, reason: decoded.reason, key, value: record.value })
      continue
    }
    const position = { offset: record.offset, key, value: record.value }
    if (decoded.click)
      valid.push({ ...position, click: decoded.click, event: undefined, viewerId: viewerId(decoded.click) })
    else {
      const { event } = decoded
      const click = event.type === 'click' ? clickOfEvent(event) : undefined
      valid.push({ ...position, click, event, viewerId: viewerId(event) })
    }
  }
  // A poison record must never block its partition: park it, with why, before moving past it.
  await inStore('kafka', () =>
    stores.deadLetters.send(rejected.map((r) => ({ ...r, topic: batch.topic, partition: batch.partition }))),
  )
  const refused: BatchOutcome['refused'] = []
  const owned = await storeIsolatingRefused(batch, valid, last.offset, stores, refused)
  return { lastOffset: last.offset, ...tally(valid, owned, refused), rejected, refused }
}

/** Counts the outcome of a batch's valid records: clicks by verdict, events by type and outcome. */
function tally(valid: ValidRecord[], owned: OwnedRecord[], refused: BatchOutcome['refused']) {
  const invalid: Record<string, number> = {}
  const events: EventTally = {}
  const add = (type: AdEvent, outcome: EventOutcome) => {
    const byOutcome = events[type] ?? {}
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1
    events[type] = byOutcome
  }
  let counted = 0
  const handled = new Set<string>()
  for (const r of owned) {
    handled.add(r.offset)
    if (r.click) {
      if (r.reason) invalid[r.reason] = (invalid[r.reason] ?? 0) + 1
      else counted++
    }
    if (r.event) add(r.event.type, r.reason ? 'invalid' : 'counted')
  }
  for (const r of refused) {
    handled.add(r.offset)
    if (r.event) add(r.event, 'refused')
  }
  let duplicates = 0
  for (const r of valid) {
    if (handled.has(r.offset)) continue
    if (r.click) duplicates++
    if (r.event) add(r.event.type, 'duplicate')
  }
  return { counted, invalid, duplicates, events }
}

interface ValidRecord {
  /** The click the record is: a version 1 click, or the click of a `click` event. */
  click: ClickMessage | undefined
  /** The event message, for a version 2 record (a `click` event included). */
  event: EventMessage | undefined
  offset: string
  viewerId: string
  key: Buffer | null
  value: Buffer | null
}
type OwnedRecord = ValidRecord & { reason: string | null }

/**
 * Stores `records` (in offset order) and raises the partition's Redis mark to `markOffset`; when a store
 * refuses them for their content, halves them until the refused records stand alone, sends each of
 * those to the dead-letter topic and stores the rest. Returns the records that own their click or event.
 * TRICKY: the halves run in order, and each raises the Redis mark only to its own last offset, so the
 * mark never passes a record that is not yet applied; a refused record is on the dead-letter topic
 * before any later half moves the mark past it. On redelivery the same records fail the same way
 * (Postgres holds none of them) and go the same way; the others are no-ops in both stores.
 * A transient error in any half propagates: nothing is committed and the whole batch is retried.
 */
async function storeIsolatingRefused(
  batch: PartitionBatch,
  records: ValidRecord[],
  markOffset: string,
  stores: ClickStores,
  refused: BatchOutcome['refused'],
): Promise<OwnedRecord[]> {
  try {
    return await storeRecords(batch, records, markOffset, stores)
  } catch (err) {
    if (!(err instanceof RefusedByStoreError) || records.length === 0) throw err
    const [only] = records
    if (records.length === 1 && only) {
      const letter = { offset: only.offset, reason: err.reason, key: only.key, value: only.value }
      await inStore('kafka', () =>
        stores.deadLetters.send([{ ...letter, topic: batch.topic, partition: batch.partition }]),
      )
      refused.push({
        ...letter,
        store: err.store,
        click: only.click !== undefined,
        ...(only.event ? { event: only.event.type } : {}),
      })
      // The record is handled: move the mark past it, as for a batch with nothing to count.
      // NOTE: a refusal by Redis leaves the record in Postgres, the source of truth, which reconciliation
      // copies to Redis; on redelivery the record is below the mark and Redis skips it.
      await inStore('redis', () => stores.counters.apply(batch.topic, batch.partition, markOffset, []))
      return []
    }
    const half = Math.ceil(records.length / 2)
    const head = records.slice(0, half)
    const headMark = head.at(-1)?.offset ?? markOffset
    const first = await storeIsolatingRefused(batch, head, headMark, stores, refused)
    const rest = await storeIsolatingRefused(batch, records.slice(half), markOffset, stores, refused)
    return [...first, ...rest]
  }
}

/**
 * Writes the records' clicks and events to Postgres, then applies the owned ones to Redis in one call;
 * every record up to `markOffset` is then applied.
 * NOTE: two Postgres statements, not one transaction: each is idempotent on its own, so a crash between
 * them replays as any other crash before Redis does.
 */
async function storeRecords(
  batch: PartitionBatch,
  records: ValidRecord[],
  markOffset: string,
  stores: ClickStores,
): Promise<OwnedRecord[]> {
  const clicks = await storeClicks(batch, records, stores)
  const events = await storeEvents(batch, records, stores)
  await inStore('redis', () =>
    stores.counters.apply(
      batch.topic,
      batch.partition,
      markOffset,
      clicks.map((c) => c.counted),
      events.map((e) => e.counted),
    ),
  )
  return [...clicks.map((c) => c.record), ...events.map((e) => e.record)]
}

/** Classifies and inserts the records' clicks; answers those that own their click. */
async function storeClicks(
  batch: PartitionBatch,
  records: ValidRecord[],
  stores: ClickStores,
): Promise<{ record: OwnedRecord; counted: OwnedClick }[]> {
  // Only a click id's first record is judged and inserted: the others lose to it in Postgres anyway,
  // and judged alongside it they would make it look like its own repeat (a click pixel and the
  // click-through of one impression arrive together, in either order of receive time).
  const first = new Map<string, ValidRecord & { click: ClickMessage }>()
  for (const r of records)
    if (r.click && !first.has(r.click.click_id)) first.set(r.click.click_id, { ...r, click: r.click })
  const unique = [...first.values()]
  if (unique.length === 0) return []
  const history = await inStore('postgres', () =>
    viewerHistory(stores.sql, unique, stores.rules.repeatWindowMs),
  )
  const verdicts = classifyClicks(unique, history, stores.rules)
  const stored = await inStore('postgres', () =>
    insertClicks(
      stores.sql,
      unique.map((v, i) => ({
        click: v.click,
        offset: v.offset,
        viewerId: v.viewerId,
        partition: batch.partition,
        reason: verdicts[i]?.reason ?? null,
        ...(v.event ? { impressionId: v.event.impression_id } : {}),
      })),
    ),
  )
  return records.flatMap((v) => {
    const row = v.click && stored.get(v.click.click_id)
    if (!v.click || !row || row.owner !== `${batch.partition}:${v.offset}`) return []
    return [
      {
        record: { ...v, reason: row.reason },
        counted: {
          offset: v.offset,
          adId: v.click.ad_id,
          viewerId: v.viewerId,
          reason: row.reason,
          playbackTime: v.click.playback_time,
          minute: epochMinute(v.click.received_at),
        },
      },
    ]
  })
}

/** Judges and inserts the records' events other than clicks; answers those that own their row. */
async function storeEvents(
  batch: PartitionBatch,
  records: ValidRecord[],
  stores: ClickStores,
): Promise<{ record: OwnedRecord; counted: OwnedEvent }[]> {
  const events = records.flatMap((r) => (r.event && !r.click ? [{ ...r, event: r.event }] : []))
  if (events.length === 0) return []
  const stored = await inStore('postgres', () =>
    insertEvents(
      stores.sql,
      events.map((v) => ({
        event: v.event,
        partition: batch.partition,
        offset: v.offset,
        viewerId: v.viewerId,
        reason: eventInvalidReason(v.event.user_agent, stores.rules),
        errorCode: errorCodeOf(v.event),
      })),
    ),
  )
  return events.flatMap((v) => {
    const row = stored.get(eventKey(v.event.impression_id, v.event.type))
    if (!row || row.owner !== `${batch.partition}:${v.offset}`) return []
    return [
      {
        record: { ...v, reason: row.reason },
        counted: {
          offset: v.offset,
          adId: v.event.ad_id,
          event: v.event.type,
          viewerId: v.viewerId,
          reason: row.reason,
          errorCode: errorCodeOf(v.event),
          minute: epochMinute(v.event.received_at),
        },
      },
    ]
  })
}
