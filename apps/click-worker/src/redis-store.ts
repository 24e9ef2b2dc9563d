import type { RedisKeys } from '@adtrack/contracts'
import type { Redis } from 'ioredis'

/**
 * Applies a partition's counted clicks to Redis exactly once.
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
 * moving). Then per counted record: offset, count key, viewers key, viewer id.
 */
const APPLY_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('RECONCILING counts are being rebuilt') end
local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
local counts = {}
local viewers = {}
for i = 2, #ARGV, 4 do
  if tonumber(ARGV[i]) > applied then
    local countKey, viewersKey = ARGV[i + 1], ARGV[i + 2]
    counts[countKey] = (counts[countKey] or 0) + 1
    viewers[viewersKey] = viewers[viewersKey] or {}
    table.insert(viewers[viewersKey], ARGV[i + 3])
  end
end
for key, n in pairs(counts) do redis.call('INCRBY', key, n) end
for key, ids in pairs(viewers) do redis.call('PFADD', key, unpack(ids)) end
if tonumber(ARGV[1]) > applied then redis.call('SET', KEYS[1], ARGV[1]) end
return applied
`

export interface CountedClick {
  offset: string
  adId: string
  viewerId: string
}

export class RedisCounters {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('applyClicks', { numberOfKeys: 2, lua: APPLY_SCRIPT })
  }

  async apply(topic: string, partition: number, lastOffset: string, clicks: CountedClick[]): Promise<void> {
    const args: string[] = [lastOffset]
    for (const c of clicks) {
      args.push(c.offset, this.keys.clickCount(c.adId), this.keys.viewers(c.adId), c.viewerId)
    }
    await (this.redis as Redis & { applyClicks: (...a: string[]) => Promise<unknown> }).applyClicks(
      this.keys.appliedOffset(topic, partition),
      this.keys.reconcileLock(topic),
      ...args,
    )
  }
}
