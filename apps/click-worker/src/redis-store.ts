import { type InvalidReason, MINUTE_BUCKET_TTL_SECONDS, type RedisKeys } from '@adtrack/contracts'
import type { Redis } from 'ioredis'

/**
 * Applies a partition's owned clicks to Redis exactly once.
 *
 * TRICKY: the worker commits to Postgres, then updates Redis, then commits the Kafka offset; it can die
 * between any two. Redis therefore remembers, per topic-partition, the highest offset it has applied,
 * and this script, atomically, adds only the records above that mark and then raises it. A redelivered
 * record below the mark is skipped; one above it was never applied. Since the script runs as a whole or
 * not at all, a crash cannot leave half a batch applied.
 *
 * KEYS[1]: the partition's applied-offset key. KEYS[2]: the reconciliation lock; while it is held the
 * script refuses (reconciliation needs Redis still), and the worker retries the batch shortly.
 * ARGV[1]: the batch's last offset (applied even when no record in the batch counts, so the mark keeps
 * moving). ARGV[2..7]: the key templates for clicks, viewers, invalid, playback sum, minute bucket and
 * top-ads minute (the ad id goes where `\0` is, the epoch minute where `\1` is). ARGV[8]: seconds the
 * minute keys live. Then per owned record: offset, ad id, viewer id, invalid reason ('' when valid),
 * playback time, epoch minute of its receive time.
 * TRICKY: keys built here from templates are not declared in KEYS, so this needs a single Redis primary.
 */
const APPLY_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('RECONCILING counts are being rebuilt') end
local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
local function key(template, ad, minute)
  return (string.gsub(template, '[%z\\1]', function(c) if c == '\\0' then return ad else return minute end end))
end
local ttl = tonumber(ARGV[8])
local clicks, viewers, invalid, playback, minutes = {}, {}, {}, {}, {}
for i = 9, #ARGV, 6 do
  if tonumber(ARGV[i]) > applied then
    local ad, viewer, reason, played, minute = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
    local bucket = ad .. '\\0' .. minute
    minutes[bucket] = minutes[bucket] or { ad, minute, 0, 0 }
    if reason == '' then
      clicks[ad] = (clicks[ad] or 0) + 1
      playback[ad] = (playback[ad] or 0) + played
      viewers[ad] = viewers[ad] or {}
      table.insert(viewers[ad], viewer)
      minutes[bucket][3] = minutes[bucket][3] + 1
    else
      invalid[ad] = invalid[ad] or {}
      invalid[ad][reason] = (invalid[ad][reason] or 0) + 1
      minutes[bucket][4] = minutes[bucket][4] + 1
    end
  end
end
for _, m in pairs(minutes) do
  local k = key(ARGV[6], m[1], m[2])
  if m[3] > 0 then
    redis.call('HINCRBY', k, 'v', m[3])
    local top = key(ARGV[7], m[1], m[2])
    redis.call('ZINCRBY', top, m[3], m[1])
    redis.call('EXPIRE', top, ttl)
  end
  if m[4] > 0 then redis.call('HINCRBY', k, 'i', m[4]) end
  redis.call('EXPIRE', k, ttl)
end
for ad, n in pairs(clicks) do redis.call('INCRBY', key(ARGV[2], ad), n) end
for ad, ids in pairs(viewers) do redis.call('PFADD', key(ARGV[3], ad), unpack(ids)) end
for ad, reasons in pairs(invalid) do
  for reason, n in pairs(reasons) do redis.call('HINCRBY', key(ARGV[4], ad), reason, n) end
end
for ad, sum in pairs(playback) do redis.call('INCRBY', key(ARGV[5], ad), sum) end
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

export class RedisCounters {
  private readonly templates: string[]

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('applyClicks', { numberOfKeys: 2, lua: APPLY_SCRIPT })
    // The same functions that readers use, so writer and readers cannot disagree on a key's name.
    this.templates = [
      keys.clickCount('\0'),
      keys.viewers('\0'),
      keys.invalid('\0'),
      keys.playbackSum('\0'),
      keys.minute('\0', '\u0001'),
      keys.topMinute('\u0001'),
    ]
  }

  async apply(topic: string, partition: number, lastOffset: string, clicks: OwnedClick[]): Promise<void> {
    const args: (string | number)[] = [lastOffset, ...this.templates, MINUTE_BUCKET_TTL_SECONDS]
    for (const c of clicks) args.push(c.offset, c.adId, c.viewerId, c.reason ?? '', c.playbackTime, c.minute)
    await (
      this.redis as Redis & { applyClicks: (...a: (string | number)[]) => Promise<unknown> }
    ).applyClicks(this.keys.appliedOffset(topic, partition), this.keys.reconcileLock(topic), ...args)
  }
}
