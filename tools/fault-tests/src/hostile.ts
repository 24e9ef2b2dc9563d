import { randomUUID } from 'node:crypto'
import { deadLetterTopic } from '@adtrack/contracts'
import { Kafka, logLevel } from 'kafkajs'

/**
 * Viewer ids that the contract of this day accepts and Postgres refuses: NUL, alone and amid other
 * control characters. Sent as JSON, the NUL travels as the escape \u0000.
 */
export const HOSTILE_VIEWER_IDS = [
  '\u0000',
  'viewer\u0000nul',
  '\u0001\u0000\u001f\u0085',
  'a\u0000\ud83d\ude00',
]

/** Hostile clicks sent through ingest-api, as a player would: what the edge acknowledged or refused. */
export interface HostileResult {
  /** click_id -> ad_id of the hostile clicks that got a 2xx (ingest accepted them). */
  acknowledged: Map<string, string>
  /** How many got a 4xx: refused at the edge, never promised. */
  refusedAtEdge: number
}

export async function sendHostileClicks(url: string, count: number, ads: string[]): Promise<HostileResult> {
  const result: HostileResult = { acknowledged: new Map(), refusedAtEdge: 0 }
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const clickId = randomUUID()
      const adId = ads[i % ads.length] as string
      const body = JSON.stringify({
        ad_id: adId,
        playback_time: i % 3600,
        click_id: clickId,
        viewer_id: HOSTILE_VIEWER_IDS[i % HOSTILE_VIEWER_IDS.length],
      })
      // A 503 (Kafka busy) is retried with the same click_id, like the load's players do.
      for (let attempt = 0; attempt < 20; attempt++) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': `Mozilla/5.0 Hostile/${i}` },
          body,
        }).catch(() => undefined)
        await res?.arrayBuffer()
        if (res && res.status >= 200 && res.status < 300) return void result.acknowledged.set(clickId, adId)
        if (res && res.status >= 400 && res.status < 500) return void result.refusedAtEdge++
        await new Promise((r) => setTimeout(r, 250))
      }
    }),
  )
  return result
}

/**
 * Writes hostile click records straight to the clicks topic, as bytes a producer could send whatever
 * the edge refuses: refused by Postgres, or by the worker's contract check. Keyed like real clicks,
 * so they share partitions with the load. Returns their click ids.
 */
export async function produceHostileRecords(
  brokers: string[],
  topic: string,
  count: number,
  ads: string[],
): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'hostile', brokers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const clicks = Array.from({ length: count }, (_, i) => ({
    v: 1,
    click_id: randomUUID(),
    ad_id: ads[i % ads.length] as string,
    playback_time: i % 3600,
    // NOTE: half carry NUL (refused by Postgres today, by the contract once it rules free text), half a
    // year 0 receive time, valid by the contract and refused by Postgres either way.
    received_at: i % 2 ? '0000-01-01T00:00:00Z' : new Date().toISOString(),
    ip: '203.0.113.66',
    user_agent: i % 4 === 0 ? 'Mozilla/5.0 \u0000 Hostile' : 'Mozilla/5.0 Hostile',
    ...(i % 2 ? {} : { viewer_id: HOSTILE_VIEWER_IDS[i % HOSTILE_VIEWER_IDS.length] }),
  }))
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: clicks.map((c) => ({ key: c.ad_id, value: JSON.stringify(c) })),
    })
  } finally {
    await producer.disconnect()
  }
  return clicks.map((c) => c.click_id)
}

/** Reads the topic's dead letters until `expected` click ids have shown or `timeoutMs` has passed. */
export async function readDeadLetteredClicks(
  brokers: string[],
  topic: string,
  expected: Set<string>,
  timeoutMs = 30_000,
): Promise<Map<string, string>> {
  const kafka = new Kafka({ clientId: 'dlq-check', brokers, logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `${topic}-dlq-hostile-${randomUUID()}` })
  const letters = new Map<string, string>() // click_id -> reason
  await consumer.connect()
  await consumer.subscribe({ topic: deadLetterTopic(topic), fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      let clickId: unknown
      try {
        clickId = JSON.parse(String(message.value)).click_id
      } catch {}
      if (typeof clickId === 'string') letters.set(clickId, String(message.headers?.['dlq-reason']))
    },
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && ![...expected].every((id) => letters.has(id)))
    await new Promise((r) => setTimeout(r, 200))
  await consumer.disconnect()
  return letters
}
