import {
  type AdEvent,
  type ClickMessage,
  deadLetterTopic,
  type EventMessage,
  MINUTE_BUCKET_TTL_SECONDS,
  type RedisKeys,
  viewerId,
} from '@adtrack/contracts'
import { createTopic } from '@adtrack/test-support'
import { beforeEach, describe, expect, it } from 'vitest'
import { insertEvents } from './postgres-store.js'
import { recordClicks } from './record-clicks.js'
import {
  asRecords,
  clickMessage,
  eventMessage,
  newImpressionId,
  ownScope,
  readDeadLetters,
  workerStores,
} from './testing/worker-stores.js'

// Events (version 2) through the worker's per-batch job, against the dev stack's Postgres, Redis and
// Kafka (the dead-letter topic). Each test has its own ad, key prefix and topic name.
const real = workerStores()
let keys: RedisKeys
let topic: string
let ad: string
const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)'

beforeEach(async () => {
  ;({ keys, topic, ad } = await ownScope(real, { keys: 'ev', topic: 'events' }))
})

const impression = newImpressionId
const event = (type: AdEvent, impressionId: string, over: Partial<EventMessage> = {}) =>
  eventMessage(type, impressionId, ad, over)
const click = (over: Partial<ClickMessage> = {}) => clickMessage(ad, { playback_time: 7, ...over })
const record = (partition: number, messages: (EventMessage | ClickMessage | string)[], first = 0) =>
  recordClicks(
    { topic, partition, records: asRecords(messages, first) },
    real.clickStores(keys, deadLetterTopic(topic)),
  )

const numbers = (hash: Record<string, string>) =>
  Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]))
const redisEvents = async () => numbers(await real.redis.hgetall(keys.events(ad)))
async function pgEvents() {
  const rows = await real.db.sql<{ event: string; n: number }[]>`
    select event, count(*)::int as n from ad_events where ad_id = ${ad} and invalid_reason is null group by 1`
  return Object.fromEntries(rows.map((r) => [r.event, r.n]))
}
const clickCount = async () => Number((await real.redis.get(keys.clickCount(ad))) ?? 0)

describe('recordClicks with events', () => {
  it('counts an (impression, event) once: twice in a batch, again in a later batch, and on redelivery', async () => {
    const [a, b] = [impression(), impression()]
    const first = [
      event('impression', a),
      event('start', a),
      event('impression', a), // the player fired the pixel twice
      event('impression', b),
      event('start', a),
    ]
    const outcome = await record(0, first)
    expect(outcome?.events).toEqual({
      impression: { counted: 2, duplicate: 1 },
      start: { counted: 1, duplicate: 1 },
    })
    // A later batch carries the same pairs again (a retried request), and one new one.
    const later = await record(0, [event('start', a), event('impression', b), event('complete', a)], 5)
    expect(later?.events).toEqual({
      start: { duplicate: 1 },
      impression: { duplicate: 1 },
      complete: { counted: 1 },
    })
    // Kafka redelivers the first batch (its commit was lost).
    await record(0, first)
    expect(await redisEvents()).toEqual({ impression: 2, start: 1, complete: 1 })
    expect(await pgEvents()).toEqual({ impression: 2, start: 1, complete: 1 })
    expect(await real.redis.pfcount(keys.impressionViewers(ad))).toBe(2)
    const [rollup] = await real.db.sql<{ n: number }[]>`
      select sum(valid)::int as n from event_minutes where ad_id = ${ad}`
    expect(rollup?.n).toBe(4)
  })

  it('replays exactly after a worker died between Postgres and Redis', async () => {
    const imp = impression()
    const batch = [event('impression', imp), event('first_quartile', imp), event('midpoint', imp)]
    // The first delivery got as far as the Postgres commit, then the process died.
    await insertEvents(
      real.db.sql,
      batch.map((e, i) => ({
        event: e,
        partition: 3,
        offset: String(i),
        viewerId: viewerId(e),
        reason: null,
        errorCode: null,
      })),
    )
    expect(await redisEvents()).toEqual({})
    // Kafka redelivers from the last committed offset, the batch grown by one.
    const grown = [...batch, event('third_quartile', imp)]
    await record(3, grown)
    await record(3, grown) // and once more, after Redis applied it
    expect(await redisEvents()).toEqual({ impression: 1, first_quartile: 1, midpoint: 1, third_quartile: 1 })
    expect(await pgEvents()).toEqual(await redisEvents())
    const [rollup] = await real.db.sql<{ n: number }[]>`
      select sum(valid)::int as n from event_minutes where ad_id = ${ad}`
    expect(rollup?.n).toBe(4)
  })

  it('makes a click pixel and the click-through of one impression one click, under the click rules', async () => {
    const imp = impression()
    const viewer = { ip: '192.0.2.10', user_agent: 'Mozilla/5.0 Firefox/131.0' }
    const t = Date.now()
    // The click-through was received a moment after the pixel but reached Kafka first.
    const clickThrough = event('click', imp, { ...viewer, received_at: new Date(t + 40).toISOString() })
    const pixel = event('click', imp, { ...viewer, received_at: new Date(t).toISOString(), ad_playhead: 9.6 })
    const outcome = await record(1, [event('impression', imp, viewer), clickThrough, pixel])
    expect(outcome).toMatchObject({ counted: 1, duplicates: 1, invalid: {} })
    expect(outcome?.events.click).toEqual({ counted: 1, duplicate: 1 })
    // Fired again in a later batch: still one click.
    const again = await record(1, [event('click', imp, viewer)], 3)
    expect(again).toMatchObject({ counted: 0, duplicates: 1 })
    const rows = await real.db.sql<
      { click_id: string; impression_id: string; playback_time: number; invalid_reason: string | null }[]
    >`select click_id, impression_id, playback_time, invalid_reason from clicks where ad_id = ${ad}`
    // The record that reached Kafka first owns the click: the click-through, without a playhead.
    expect(rows).toEqual([
      { click_id: `imp:${imp}`, impression_id: imp, playback_time: 0, invalid_reason: null },
    ])
    expect(await clickCount()).toBe(1)
    expect(await real.redis.pfcount(keys.viewers(ad))).toBe(1)
    // A click is a click, not an event: it is not among the ad's events.
    expect(await redisEvents()).toEqual({ impression: 1 })
    // The click rules apply: a second impression's click by the same viewer within the window repeats.
    const next = impression()
    const repeat = await record(
      1,
      [event('click', next, { ...viewer, received_at: new Date(t + 5000).toISOString() })],
      4,
    )
    expect(repeat?.invalid).toEqual({ repeat: 1 })
    expect(repeat?.events.click).toEqual({ invalid: 1 })
  })

  it('stores bots’ events as invalid and leaves them out of every valid counter', async () => {
    const imp = impression()
    const outcome = await record(2, [
      event('impression', imp, { user_agent: BOT }),
      event('start', imp, { user_agent: BOT }),
      event('error', imp, { user_agent: BOT, error_code: 405 }),
      event('click', imp, { user_agent: BOT }),
    ])
    expect(outcome?.events).toEqual({
      impression: { invalid: 1 },
      start: { invalid: 1 },
      error: { invalid: 1 },
      click: { invalid: 1 },
    })
    expect(outcome?.invalid).toEqual({ bot: 1 })
    expect(await redisEvents()).toEqual({})
    expect(numbers(await real.redis.hgetall(keys.invalidEvents(ad)))).toEqual({
      impression: 1,
      start: 1,
      error: 1,
    })
    expect(await real.redis.hgetall(keys.errors(ad))).toEqual({})
    expect(await real.redis.exists(keys.impressionViewers(ad))).toBe(0)
    expect(await real.redis.hgetall(keys.invalid(ad))).toEqual({ bot: '1' })
    const minute = Math.floor(Date.now() / 60_000)
    const scores = await Promise.all(
      [minute - 1, minute].map((m) => real.redis.zscore(keys.topImpressionsMinute(m), ad)),
    )
    expect(scores).toEqual([null, null])
    const rows = await real.db.sql<{ invalid: number; valid: number }[]>`
      select sum(invalid)::int as invalid, sum(valid)::int as valid from event_minutes where ad_id = ${ad}`
    expect(rows[0]).toEqual({ invalid: 3, valid: 0 })
  })

  it('counts errors by code, and per-minute fields, top impressions and the rollup', async () => {
    const minute = Date.parse('2026-11-25T10:15:00.000Z')
    const at = (ms: number) => new Date(minute + ms).toISOString()
    const [a, b, c] = [impression(), impression(), impression()]
    await record(4, [
      event('impression', a, { received_at: at(0) }),
      event('impression', b, { received_at: at(59_999) }),
      event('impression', c, { received_at: at(60_000), viewer_id: 'device-7' }),
      event('error', a, { received_at: at(1_000), error_code: 405 }),
      event('error', b, { received_at: at(61_000), error_code: 405 }),
      event('error', c, { received_at: at(61_000) }), // the player gave no code
      event('start', a, { received_at: at(2_000), error_code: 400 }), // a code on anything else is dropped
    ])
    const epoch = minute / 60_000
    expect(numbers(await real.redis.hgetall(keys.errors(ad)))).toEqual({ '405': 2, unknown: 1 })
    expect(await redisEvents()).toEqual({ impression: 3, error: 3, start: 1 })
    expect(numbers(await real.redis.hgetall(keys.minute(ad, epoch)))).toEqual({
      'e:impression': 2,
      'e:error': 1,
      'x:405': 1,
      'e:start': 1,
    })
    expect(numbers(await real.redis.hgetall(keys.minute(ad, epoch + 1)))).toEqual({
      'e:impression': 1,
      'e:error': 2,
      'x:405': 1,
      'x:unknown': 1,
    })
    expect(await real.redis.zscore(keys.topImpressionsMinute(epoch), ad)).toBe('2')
    expect(await real.redis.zscore(keys.topImpressionsMinute(epoch + 1), ad)).toBe('1')
    expect(await real.redis.ttl(keys.topImpressionsMinute(epoch))).toBeGreaterThan(
      MINUTE_BUCKET_TTL_SECONDS - 60,
    )
    expect(await real.redis.ttl(keys.minute(ad, epoch))).toBeGreaterThan(MINUTE_BUCKET_TTL_SECONDS - 60)
    expect(await real.redis.exists(keys.topMinute(epoch))).toBe(0) // no clicks, no top-clicks entry
    expect(await real.redis.pfcount(keys.impressionViewers(ad))).toBe(3)
    const rollup = await real.db.sql<{ minute: Date; event: string; error_code: number; valid: number }[]>`
      select minute, event, error_code, valid from event_minutes where ad_id = ${ad}
      order by minute, event, error_code`
    expect(rollup.map((r) => [r.minute.toISOString().slice(11, 16), r.event, r.error_code, r.valid])).toEqual(
      [
        ['10:15', 'error', 405, 1],
        ['10:15', 'impression', 0, 2],
        ['10:15', 'start', 0, 1],
        ['10:16', 'error', 0, 1],
        ['10:16', 'error', 405, 1],
        ['10:16', 'impression', 0, 1],
      ],
    )
    const [stored] = await real.db.sql<{ error_code: number | null }[]>`
      select error_code from ad_events where impression_id = ${a} and event = 'start'`
    expect(stored?.error_code).toBeNull()
  })

  it('takes version 1 clicks and version 2 events mixed in one batch', async () => {
    const imp = impression()
    const batch = [
      click(),
      event('impression', imp),
      click(),
      event('click', imp),
      event('complete', imp),
      click(),
    ]
    const outcome = await record(5, batch, 100)
    expect(outcome).toMatchObject({ lastOffset: '105', counted: 4, duplicates: 0, rejected: [], refused: [] })
    expect(outcome?.events).toEqual({
      impression: { counted: 1 },
      click: { counted: 1 },
      complete: { counted: 1 },
    })
    expect(await clickCount()).toBe(4)
    expect(await redisEvents()).toEqual({ impression: 1, complete: 1 })
    expect(await real.redis.get(keys.appliedOffset(topic, 5))).toBe('105')
    const [row] = await real.db.sql<{ n: number; with_impression: number }[]>`
      select count(*)::int as n, count(impression_id)::int as with_impression from clicks where ad_id = ${ad}`
    expect(row).toEqual({ n: 4, with_impression: 1 })
  })

  it('dead-letters a hostile event record, by contract or by the store, and counts the rest of the batch', async () => {
    await createTopic(deadLetterTopic(topic), 1)
    const imp = impression()
    const schemaFailing = JSON.stringify({
      ...event('start', imp),
      impression_id: "'); drop table ad_events;--",
    })
    const unknownType = JSON.stringify({ ...event('start', imp), type: 'rewind' })
    // Valid by the contract, refused by Postgres: there is no year 0.
    const yearZero = event('midpoint', imp, { served_at: '0000-01-01T00:00:00Z' })
    const batch = [
      event('impression', imp),
      schemaFailing,
      event('start', imp),
      yearZero,
      unknownType,
      event('first_quartile', imp),
      click(),
    ]
    const outcome = await record(6, batch, 20)
    expect(outcome?.lastOffset).toBe('26')
    expect(outcome?.rejected.map((r) => r.offset)).toEqual(['21', '24'])
    expect(outcome?.refused.map((r) => [r.offset, r.store, r.click, r.event])).toEqual([
      ['23', 'postgres', false, 'midpoint'],
    ])
    expect(outcome?.events.midpoint).toEqual({ refused: 1 })
    expect(await redisEvents()).toEqual({ impression: 1, start: 1, first_quartile: 1 })
    expect(await clickCount()).toBe(1)
    expect(await real.redis.get(keys.appliedOffset(topic, 6))).toBe('26')
    const letters = (await readDeadLetters(deadLetterTopic(topic), 3)).sort(
      (a, b) => Number(a.offset) - Number(b.offset),
    )
    expect(letters.map((l) => [l.offset, l.reason])).toEqual([
      ['21', expect.stringMatching(/^does not match EventMessage v2: \/impression_id/)],
      ['23', expect.stringMatching(/^postgres 2200[78]: /)],
      ['24', expect.stringMatching(/^does not match EventMessage v2: \/type/)],
    ])
    // Redelivered: the same records go the same way, and nothing is counted twice.
    await record(6, batch, 20)
    expect(await redisEvents()).toEqual({ impression: 1, start: 1, first_quartile: 1 })
  })
})
