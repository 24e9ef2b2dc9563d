import { INVALID_REASONS, type InvalidReason, noInvalidClicks, type RedisKeys } from '@adtrack/contracts'
import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel'
import type { Redis } from 'ioredis'
import type { BucketCounts } from './time-buckets.js'

export interface Counts {
  clicks: number
  uniqueViewers: number
  invalid: Record<InvalidReason, number>
  playbackSum: number
}

/** Live per-ad counters that the click-worker maintains in Redis. */
export class ClickCounts {
  // NOTE: a read must not hang on a Redis that is gone: answer within a short timeout, and after a few
  // failures stop asking for a while (the caller falls back to Postgres meanwhile).
  private readonly breaker = circuitBreaker(handleAll, {
    halfOpenAfter: 5000,
    breaker: new ConsecutiveBreaker(3),
  })
  private readonly policy = wrap(this.breaker, timeout(250, TimeoutStrategy.Aggressive))

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  get available(): boolean {
    return this.breaker.state !== CircuitState.Open
  }

  /** Per-minute valid/invalid counts of one ad, for the given epoch minutes (missing ones omitted). */
  minutes(adId: string, epochMinutes: number[]): Promise<Map<number, BucketCounts>> {
    return this.policy.execute(async () => {
      const read = this.redis.pipeline()
      for (const m of epochMinutes) read.hgetall(this.keys.minute(adId, m))
      const results = (await read.exec()) ?? []
      const out = new Map<number, BucketCounts>()
      results.forEach(([err, value], i) => {
        if (err) throw err
        const h = value as Record<string, string>
        if (h.v || h.i)
          out.set((epochMinutes[i] as number) * 60_000, {
            valid: Number(h.v ?? 0),
            invalid: Number(h.i ?? 0),
          })
      })
      return out
    })
  }

  /** Valid clicks per ad summed over the given epoch minutes, highest first. */
  top(epochMinutes: number[], limit: number): Promise<{ ad_id: string; click_count: number }[]> {
    return this.policy.execute(async () => {
      const keys = epochMinutes.map((m) => this.keys.topMinute(m))
      const flat = (await this.redis.call('ZUNION', keys.length, ...keys, 'WITHSCORES')) as string[]
      const ranked: { ad_id: string; click_count: number }[] = []
      for (let i = 0; i < flat.length; i += 2)
        ranked.push({ ad_id: flat[i] as string, click_count: Number(flat[i + 1]) })
      return ranked
        .sort((a, b) => b.click_count - a.click_count || a.ad_id.localeCompare(b.ad_id))
        .slice(0, limit)
    })
  }

  forAd(adId: string): Promise<Counts> {
    return this.policy.execute(async () => {
      const results = await this.redis
        .pipeline()
        .get(this.keys.clickCount(adId))
        .pfcount(this.keys.viewers(adId))
        .hgetall(this.keys.invalid(adId))
        .get(this.keys.playbackSum(adId))
        .exec()
      if (!results) throw new Error('redis pipeline returned nothing')
      for (const [err] of results) if (err) throw err
      const [clicks, viewers, invalidHash, playback] = results.map(([, value]) => value) as [
        string | null,
        number,
        Record<string, string>,
        string | null,
      ]
      const invalid = noInvalidClicks()
      for (const reason of INVALID_REASONS) invalid[reason] = Number(invalidHash[reason] ?? 0)
      return {
        clicks: Number(clicks ?? 0),
        uniqueViewers: Number(viewers),
        invalid,
        playbackSum: Number(playback ?? 0),
      }
    })
  }
}
