import type { ClickMessage, EVENT_INVALID_REASONS, EventMessage, InvalidReason } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { ViewerHistory } from './classify.js'

/** Why an event does not count: only bots (repeats and budgets are click rules). */
export type EventInvalidReason = (typeof EVENT_INVALID_REASONS)[number]

export interface PositionedClick {
  click: ClickMessage
  partition: number
  offset: string
  viewerId: string
  reason: InvalidReason | null
  /** The impression of a click that came as an event (version 2); absent for POST /ads/click. */
  impressionId?: string
}

export interface StoredClick {
  /** partition:offset of the Kafka record that owns the click. */
  owner: string
  /** The verdict stored with the click when it was first written. */
  reason: InvalidReason | null
}

/**
 * Inserts a batch of clicks in one statement and returns, for every click id in the batch, the Kafka
 * position (partition:offset) of the record that owns it (the record whose insert created the row,
 * whether in this call or an earlier delivery of the same record) and the reason stored with it.
 * NOTE: ownership and the stored reason are what make Redis exact: a record counts in Redis iff it
 * owns its click, by the stored verdict, which is the same answer on every redelivery.
 */
export async function insertClicks(sql: Sql, batch: PositionedClick[]): Promise<Map<string, StoredClick>> {
  if (batch.length === 0) return new Map()
  // The batch goes as one JSON parameter: a fixed number of parameters whatever the batch size, and
  // JSON.stringify is native, where escaping ten text arrays was a visible share of the worker's CPU.
  // NOTE: typed text, then cast: a parameter typed json would be JSON-encoded again by postgres.js.
  const input = JSON.stringify(
    batch.map(({ click, partition, offset, viewerId, reason, impressionId }) => ({
      click_id: click.click_id,
      ad_id: click.ad_id,
      playback_time: click.playback_time,
      received_at: click.received_at,
      ip: click.ip,
      user_agent: click.user_agent,
      kafka_partition: partition,
      kafka_offset: offset,
      viewer_id: viewerId,
      invalid_reason: reason,
      impression_id: impressionId ?? null,
    })),
  )
  // The final select reads the snapshot taken before the insert, so the union is: rows this statement
  // created plus rows that already existed. A duplicate id inside the batch goes to its earliest record.
  // The per-minute rollup adds only the rows this statement created, so it is exact on redelivery, its
  // invalid clicks by reason included (migration 0008; the dashboard's overview sums them).
  const rows = await sql<
    {
      click_id: string
      kafka_partition: number
      kafka_offset: string
      invalid_reason: InvalidReason | null
    }[]
  >`
    with input as (
      select * from json_to_recordset(${input}::text::json) as t(
        click_id text, ad_id text, playback_time int, received_at timestamptz, ip text, user_agent text,
        kafka_partition int, kafka_offset bigint, viewer_id text, invalid_reason text, impression_id text)
    ),
    inserted as (
      insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition,
                          kafka_offset, viewer_id, invalid_reason, impression_id)
      select distinct on (click_id) * from input order by click_id, kafka_partition, kafka_offset
      on conflict (click_id) do nothing
      returning click_id, kafka_partition, kafka_offset, invalid_reason, ad_id, received_at, playback_time
    ),
    rolled_up as (
      insert into click_minutes (ad_id, minute, valid, invalid, playback_sum, invalid_bot, invalid_repeat,
                                 invalid_over_budget, invalid_inactive_ad)
      select ad_id, date_trunc('minute', received_at),
             count(*) filter (where invalid_reason is null),
             count(*) filter (where invalid_reason is not null),
             coalesce(sum(playback_time) filter (where invalid_reason is null), 0),
             count(*) filter (where invalid_reason = 'bot'),
             count(*) filter (where invalid_reason = 'repeat'),
             count(*) filter (where invalid_reason = 'over_budget'),
             count(*) filter (where invalid_reason = 'inactive_ad')
      from inserted group by 1, 2
      on conflict (ad_id, minute) do update set
        valid = click_minutes.valid + excluded.valid,
        invalid = click_minutes.invalid + excluded.invalid,
        playback_sum = click_minutes.playback_sum + excluded.playback_sum,
        invalid_bot = click_minutes.invalid_bot + excluded.invalid_bot,
        invalid_repeat = click_minutes.invalid_repeat + excluded.invalid_repeat,
        invalid_over_budget = click_minutes.invalid_over_budget + excluded.invalid_over_budget,
        invalid_inactive_ad = click_minutes.invalid_inactive_ad + excluded.invalid_inactive_ad
    )
    select click_id, kafka_partition, kafka_offset::text, invalid_reason from inserted
    union all
    select click_id, kafka_partition, kafka_offset::text, invalid_reason from clicks
    where click_id in (select click_id from input)`
  return new Map(
    rows.map((r) => [
      r.click_id,
      { owner: `${r.kafka_partition}:${r.kafka_offset}`, reason: r.invalid_reason },
    ]),
  )
}

export interface PositionedEvent {
  event: EventMessage
  partition: number
  offset: string
  viewerId: string
  reason: EventInvalidReason | null
  /** The error code to store: an error event's, else null (see impression-events' errorCodeOf). */
  errorCode: number | null
}

export interface StoredEvent {
  /** partition:offset of the Kafka record that owns the (impression, event). */
  owner: string
  reason: EventInvalidReason | null
}

/** The key of an impression's event in insertEvents' answer. */
export const eventKey = (impressionId: string, event: string) => `${impressionId}|${event}`

/**
 * Inserts a batch of events (anything but clicks) in one statement, like insertClicks: returns for
 * every (impression, event) in the batch the Kafka position of the record that owns it and its stored
 * reason, and adds to the per-minute rollup only the rows this statement created.
 * NOTE: the primary key (impression_id, event) is the exactly-once rule: a pixel fired twice, a redelivery
 * and a replay after a crash all meet `on conflict do nothing`, and only the owner counts in Redis.
 */
export async function insertEvents(sql: Sql, batch: PositionedEvent[]): Promise<Map<string, StoredEvent>> {
  if (batch.length === 0) return new Map()
  const input = JSON.stringify(
    batch.map(({ event, partition, offset, viewerId, reason, errorCode }) => ({
      impression_id: event.impression_id,
      event: event.type,
      ad_id: event.ad_id,
      served_at: event.served_at,
      received_at: event.received_at,
      viewer_id: viewerId,
      ip: event.ip,
      user_agent: event.user_agent,
      error_code: errorCode,
      ad_playhead: event.ad_playhead ?? null,
      invalid_reason: reason,
      kafka_partition: partition,
      kafka_offset: offset,
    })),
  )
  // As in insertClicks: the final select sees the snapshot before the insert, so it answers the rows
  // created here plus those that were there; a pair twice in the batch goes to its earliest record.
  // The rollup's error_code is 0 for no code (a key column cannot be null).
  // NOTE: the rollup's rows are upserted in key order, so two partitions' batches meeting on the same
  // minutes lock them in the same order rather than deadlock.
  const rows = await sql<
    {
      impression_id: string
      event: string
      kafka_partition: number
      kafka_offset: string
      invalid_reason: EventInvalidReason | null
    }[]
  >`
    with input as (
      select * from json_to_recordset(${input}::text::json) as t(
        impression_id text, event text, ad_id text, served_at timestamptz, received_at timestamptz,
        viewer_id text, ip text, user_agent text, error_code smallint, ad_playhead double precision,
        invalid_reason text, kafka_partition int, kafka_offset bigint)
    ),
    inserted as (
      insert into ad_events (impression_id, event, ad_id, served_at, received_at, viewer_id, ip, user_agent,
                             error_code, ad_playhead, invalid_reason, kafka_partition, kafka_offset)
      select distinct on (impression_id, event) * from input
      order by impression_id, event, kafka_partition, kafka_offset
      on conflict (impression_id, event) do nothing
      returning impression_id, event, kafka_partition, kafka_offset, invalid_reason, ad_id, received_at,
                error_code
    ),
    rolled_up as (
      insert into event_minutes (ad_id, minute, event, error_code, valid, invalid)
      select ad_id, date_trunc('minute', received_at), event, coalesce(error_code, 0),
             count(*) filter (where invalid_reason is null),
             count(*) filter (where invalid_reason is not null)
      from inserted group by 1, 2, 3, 4
      order by 1, 2, 3, 4
      on conflict (ad_id, minute, event, error_code) do update set
        valid = event_minutes.valid + excluded.valid,
        invalid = event_minutes.invalid + excluded.invalid
    )
    select impression_id, event, kafka_partition, kafka_offset::text, invalid_reason from inserted
    union all
    select impression_id, event, kafka_partition, kafka_offset::text, invalid_reason from ad_events
    where (impression_id, event) in (select impression_id, event from input)`
  return new Map(
    rows.map((r) => [
      eventKey(r.impression_id, r.event),
      { owner: `${r.kafka_partition}:${r.kafka_offset}`, reason: r.invalid_reason },
    ]),
  )
}

const HOUR_MS = 3_600_000

/**
 * What Postgres holds about these viewers around the batch's time span: clicks per viewer per clock
 * hour, and each (viewer, ad) pair's latest click within the repeat window. Aggregated in SQL, so a
 * viewer with thousands of clicks costs one row per hour, not thousands.
 */
export async function viewerHistory(
  sql: Sql,
  clicks: { click: ClickMessage; viewerId: string }[],
  repeatWindowMs: number,
): Promise<ViewerHistory> {
  const adIds = [...new Set(clicks.map((c) => c.click.ad_id))]
  const viewers = [...new Set(clicks.map((c) => c.viewerId))]
  const times = clicks.map((c) => Date.parse(c.click.received_at))
  const earliest = Math.min(...times)
  const latest = Math.max(...times)
  const hourStart = new Date(earliest - (earliest % HOUR_MS))
  const repeatFrom = new Date(earliest - repeatWindowMs)
  const until = new Date(latest + 1)
  const [hours, pairs, ads] = await Promise.all([
    sql<{ viewer_id: string; hour: Date; n: number }[]>`
      select viewer_id, date_trunc('hour', received_at) as hour, count(*)::int as n
      from clicks
      where viewer_id = any(${viewers}::text[]) and received_at >= ${hourStart} and received_at < ${until}
      group by 1, 2`,
    // NOTE: no `ad_id = any(...)` here, though only the batch's ads matter: with it the planner may pick
    // the (ad_id, received_at) index and read every click of those ads in the repeat window, which grows
    // with the click rate (a parallel seq scan when a backlog shares one receive time). Filtered by
    // viewer alone it is an index scan on the viewers' own clicks; pairs for other ads are harmless.
    sql<{ viewer_id: string; ad_id: string; last: Date }[]>`
      select viewer_id, ad_id, max(received_at) as last
      from clicks
      where viewer_id = any(${viewers}::text[]) and received_at >= ${repeatFrom} and received_at < ${until}
      group by 1, 2`,
    sql<
      { id: string }[]
    >`select id from ads where id = any(${adIds}::text[]) and status = 'active' and archived_at is null`,
  ])
  return {
    perHour: new Map(hours.map((h) => [`${h.viewer_id}|${h.hour.getTime()}`, h.n])),
    lastClick: new Map(pairs.map((p) => [`${p.viewer_id}|${p.ad_id}`, p.last.getTime()])),
    activeAds: new Set(ads.map((a) => a.id)),
  }
}
