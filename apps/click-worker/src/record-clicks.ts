import { createHash } from 'node:crypto'
import type { ClickMessage } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { DeadLetterSink } from './dead-letters.js'
import { decodeClick } from './decode.js'
import { insertClicks, type PositionedClick } from './postgres-store.js'
import type { RedisCounters } from './redis-store.js'

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
  /** Records that own their click and were counted (or had been, on an earlier delivery). */
  counted: number
  /** Valid records whose click id another record already owns (client retries, producer resends). */
  duplicates: number
  /** Records that failed validation; they are on the dead-letter topic. */
  rejected: Rejected[]
}

/** A viewer is an IP and user agent; hashed so the HyperLogLog input is short and carries no raw IP. */
export const viewerIdOf = (ip: string, userAgent: string): string =>
  createHash('sha1').update(`${ip}\u0000${userAgent}`).digest('base64url').slice(0, 16)
export const viewerId = (click: ClickMessage): string => viewerIdOf(click.ip, click.user_agent)

/**
 * The worker's whole per-batch job, as a function of the records and the stores: validate (invalid
 * records to the dead-letter topic), write Postgres (the source of truth), then Redis, and say which
 * offset is now safe to commit.
 * Running it twice on the same records changes nothing the second time.
 */
export async function recordClicks(batch: PartitionBatch, stores: ClickStores): Promise<BatchOutcome | null> {
  const last = batch.records.at(-1)
  if (!last) return null
  const valid: PositionedClick[] = []
  const rejected: Rejected[] = []
  for (const record of batch.records) {
    const decoded = decodeClick(record.value)
    if (decoded.ok) valid.push({ click: decoded.click, partition: batch.partition, offset: record.offset })
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

  const owners = await insertClicks(stores.sql, valid)
  const counted = valid.filter((v) => owners.get(v.click.click_id) === `${batch.partition}:${v.offset}`)

  await stores.counters.apply(
    batch.topic,
    batch.partition,
    last.offset,
    counted.map((v) => ({ offset: v.offset, adId: v.click.ad_id, viewerId: viewerId(v.click) })),
  )
  return {
    lastOffset: last.offset,
    counted: counted.length,
    duplicates: valid.length - counted.length,
    rejected,
  }
}
