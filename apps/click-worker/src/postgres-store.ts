import type { ClickMessage } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'

export interface PositionedClick {
  click: ClickMessage
  partition: number
  offset: string
}

/**
 * Inserts a batch of clicks in one statement and returns, for every click id in the batch, the Kafka
 * position (partition:offset) of the record that owns it: the record whose insert created the row,
 * whether in this call or an earlier delivery of the same record.
 * NOTE: ownership is what makes Redis exact. A record counts in Redis iff it owns its click, which is
 * the same answer on every redelivery, while "did my insert create the row" is not.
 */
export async function insertClicks(sql: Sql, batch: PositionedClick[]): Promise<Map<string, string>> {
  if (batch.length === 0) return new Map()
  const cols = {
    click_id: [] as string[],
    ad_id: [] as string[],
    playback_time: [] as number[],
    received_at: [] as string[],
    ip: [] as string[],
    user_agent: [] as string[],
    kafka_partition: [] as number[],
    kafka_offset: [] as string[],
  }
  for (const { click, partition, offset } of batch) {
    cols.click_id.push(click.click_id)
    cols.ad_id.push(click.ad_id)
    cols.playback_time.push(click.playback_time)
    cols.received_at.push(click.received_at)
    cols.ip.push(click.ip)
    cols.user_agent.push(click.user_agent)
    cols.kafka_partition.push(partition)
    cols.kafka_offset.push(offset)
  }
  // One statement per batch, with a fixed number of parameters whatever the batch size (arrays + unnest).
  // The final select reads the snapshot taken before the insert, so the union is: rows this statement
  // created plus rows that already existed. A duplicate id inside the batch goes to its earliest record.
  const rows = await sql<{ click_id: string; kafka_partition: number; kafka_offset: string }[]>`
    with input as (
      select * from unnest(
        ${cols.click_id}::text[], ${cols.ad_id}::text[], ${cols.playback_time}::int[],
        ${cols.received_at}::timestamptz[], ${cols.ip}::text[], ${cols.user_agent}::text[],
        ${cols.kafka_partition}::int[], ${cols.kafka_offset}::bigint[]
      ) as t(click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset)
    ),
    inserted as (
      insert into clicks (click_id, ad_id, playback_time, received_at, ip, user_agent, kafka_partition, kafka_offset)
      select distinct on (click_id) * from input order by click_id, kafka_partition, kafka_offset
      on conflict (click_id) do nothing
      returning click_id, kafka_partition, kafka_offset
    )
    select click_id, kafka_partition, kafka_offset::text from inserted
    union all
    select click_id, kafka_partition, kafka_offset::text from clicks where click_id = any(${cols.click_id}::text[])`
  return new Map(rows.map((r) => [r.click_id, `${r.kafka_partition}:${r.kafka_offset}`]))
}
