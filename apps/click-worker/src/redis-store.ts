import {
  type InvalidReason,
  MINUTE_BUCKET_TTL_SECONDS,
  MINUTE_FIELDS,
  type RedisKeys,
} from '@adtrack/contracts'
import type { Redis } from 'ioredis'
import type { EventInvalidReason } from './postgres-store.js'

/**
 * Applies a partition's owned clicks and events to Redis exactly once.
 *
 * TRICKY: the worker commits to Postgres, then updates Redis, then commits the Kafka offset; it can die
 * between any two. Redis therefore remembers, per topic-partition, the highest offset it has applied,
 * and this script, atomically, adds only the records above that mark and then raises it. A redelivered
 * record below the mark is skipped; one above it was never applied. Since the script runs as a whole or
 * not at all, a crash cannot leave half a batch applied. Clicks and events share the partition, so they
 * share the mark, and must be applied by the same call: two calls would each need a mark of their own.
 *
 * KEYS[1]: the partition's applied-offset key. KEYS[2]: the reconciliation lock; while it is held the
 * script refuses (reconciliation needs Redis still), and the worker retries the batch shortly.
 * ARGV[1]: the batch's last offset (applied even when no record in the batch counts, so the mark keeps
 * moving). ARGV[2..12]: the key templates for clicks, viewers, invalid, playback sum, minute bucket,
 * top-ads minute, events, invalid events, errors, impression viewers and top-impressions minute (the ad
 * id goes where `\0` is, the epoch minute where `\1` is). ARGV[13]: seconds the minute keys live.
 * ARGV[14]: how many clicks follow. Then per owned click: offset, ad id, viewer id, invalid reason (''
 * when valid), playback time, epoch minute of its receive time. Then per owned event: offset, ad id,
 * event, viewer id, invalid reason ('' when valid), error code ('' when none), epoch minute.
 * TRICKY: keys built here from templates are not declared in KEYS, so this needs a single Redis primary.
 * NOTE: PFADD takes its viewers in slices: unpack() fails past a few thousand values, and one ad can
 * have that many impressions in a batch.
 */
const APPLY_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('RECONCILING counts are being rebuilt') end
local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
local function key(template, ad, minute)
  return (string.gsub(template, '[%z\\1]', function(c) if c == '\\0' then return ad else return minute end end))
end
local ttl = tonumber(ARGV[13])
local firstEvent = 15 + 6 * tonumber(ARGV[14])
local clicks, viewers, invalid, playback, minutes = {}, {}, {}, {}, {}
local events, invalidEvents, errors, impressionViewers = {}, {}, {}, {}
local function bucket(ad, minute)
  local b = ad .. '\\0' .. minute
  local m = minutes[b]
  if not m then
    m = { ad = ad, minute = minute, v = 0, i = 0, imps = 0, fields = {} }
    minutes[b] = m
  end
  return m
end
local function add(counts, ad, field)
  counts[ad] = counts[ad] or {}
  counts[ad][field] = (counts[ad][field] or 0) + 1
end
local function push(lists, ad, value)
  lists[ad] = lists[ad] or {}
  table.insert(lists[ad], value)
end
for i = 15, firstEvent - 1, 6 do
  if tonumber(ARGV[i]) > applied then
    local ad, viewer, reason, played, minute = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
    local m = bucket(ad, minute)
    if reason == '' then
      clicks[ad] = (clicks[ad] or 0) + 1
      playback[ad] = (playback[ad] or 0) + played
      push(viewers, ad, viewer)
      m.v = m.v + 1
    else
      add(invalid, ad, reason)
      m.i = m.i + 1
    end
  end
end
for i = firstEvent, #ARGV, 7 do
  if tonumber(ARGV[i]) > applied then
    local ad, event, viewer, reason, code, minute = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
    if reason == '' then
      add(events, ad, event)
      local m = bucket(ad, minute)
      local fields = m.fields
      fields['${MINUTE_FIELDS.eventPrefix}' .. event] = (fields['${MINUTE_FIELDS.eventPrefix}' .. event] or 0) + 1
      if event == 'error' then
        if code == '' then code = 'unknown' end
        add(errors, ad, code)
        fields['${MINUTE_FIELDS.errorPrefix}' .. code] = (fields['${MINUTE_FIELDS.errorPrefix}' .. code] or 0) + 1
      elseif event == 'impression' then
        push(impressionViewers, ad, viewer)
        m.imps = m.imps + 1
      end
    else
      add(invalidEvents, ad, event)
    end
  end
end
for _, m in pairs(minutes) do
  local k = key(ARGV[6], m.ad, m.minute)
  if m.v > 0 then
    redis.call('HINCRBY', k, '${MINUTE_FIELDS.validClicks}', m.v)
    local top = key(ARGV[7], m.ad, m.minute)
    redis.call('ZINCRBY', top, m.v, m.ad)
    redis.call('EXPIRE', top, ttl)
  end
  if m.i > 0 then redis.call('HINCRBY', k, '${MINUTE_FIELDS.invalidClicks}', m.i) end
  for field, n in pairs(m.fields) do redis.call('HINCRBY', k, field, n) end
  if m.imps > 0 then
    local top = key(ARGV[12], m.ad, m.minute)
    redis.call('ZINCRBY', top, m.imps, m.ad)
    redis.call('EXPIRE', top, ttl)
  end
  redis.call('EXPIRE', k, ttl)
end
local function pfaddAll(template, lists)
  for ad, ids in pairs(lists) do
    local k = key(template, ad)
    for from = 1, #ids, 1000 do redis.call('PFADD', k, unpack(ids, from, math.min(from + 999, #ids))) end
  end
end
local function hincrAll(template, counts)
  for ad, fields in pairs(counts) do
    local k = key(template, ad)
    for field, n in pairs(fields) do redis.call('HINCRBY', k, field, n) end
  end
end
for ad, n in pairs(clicks) do redis.call('INCRBY', key(ARGV[2], ad), n) end
pfaddAll(ARGV[3], viewers)
hincrAll(ARGV[4], invalid)
for ad, sum in pairs(playback) do redis.call('INCRBY', key(ARGV[5], ad), sum) end
hincrAll(ARGV[8], events)
hincrAll(ARGV[9], invalidEvents)
hincrAll(ARGV[10], errors)
pfaddAll(ARGV[11], impressionViewers)
if tonumber(ARGV[1]) > applied then redis.call('SET', KEYS[1], ARGV[1]) end
return applied
`

export interface OwnedClick {
  offset: string
  adId: string
  viewerId: string
  reason: InvalidReason | null
  playbackTime: number
  /** Epoch minute of the click's receive time: its time-series bucket. */
  minute: number
}

/** An event (not a click) whose record owns its (impression, event) row in Postgres. */
export interface OwnedEvent {
  offset: string
  adId: string
  /** impression, start … unmute, or error. */
  event: string
  viewerId: string
  reason: EventInvalidReason | null
  /** An error event's VAST code; null when the player gave none (counted as `unknown`). */
  errorCode: number | null
  /** Epoch minute of the event's receive time. */
  minute: number
}

export class RedisCounters {
  private readonly templates: string[]

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('applyCounts', { numberOfKeys: 2, lua: APPLY_SCRIPT })
    // The same functions that readers use, so writer and readers cannot disagree on a key's name.
    this.templates = [
      keys.clickCount('\0'),
      keys.viewers('\0'),
      keys.invalid('\0'),
      keys.playbackSum('\0'),
      keys.minute('\0', '\u0001'),
      keys.topMinute('\u0001'),
      keys.events('\0'),
      keys.invalidEvents('\0'),
      keys.errors('\0'),
      keys.impressionViewers('\0'),
      keys.topImpressionsMinute('\u0001'),
    ]
  }

  /** Applies the owned records above the partition's mark and raises the mark to `lastOffset`, at once. */
  async apply(
    topic: string,
    partition: number,
    lastOffset: string,
    clicks: OwnedClick[],
    events: OwnedEvent[] = [],
  ): Promise<void> {
    const args: (string | number)[] = [
      lastOffset,
      ...this.templates,
      MINUTE_BUCKET_TTL_SECONDS,
      clicks.length,
    ]
    for (const c of clicks) args.push(c.offset, c.adId, c.viewerId, c.reason ?? '', c.playbackTime, c.minute)
    for (const e of events)
      args.push(e.offset, e.adId, e.event, e.viewerId, e.reason ?? '', e.errorCode ?? '', e.minute)
    await (
      this.redis as Redis & { applyCounts: (...a: (string | number)[]) => Promise<unknown> }
    ).applyCounts(this.keys.appliedOffset(topic, partition), this.keys.reconcileLock(topic), ...args)
  }
}
