import { INVALID_REASONS, noInvalidClicks, type RedisKeys } from '@adtrack/contracts'
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
import type { Counts, CountsSource, TopAd } from './counts-source.js'
import type { BucketCounts } from './time-buckets.js'

const MINUTE_MS = 60_000

/** Live per-ad counters that the click-worker maintains in Redis. */
export class ClickCounts implements CountsSource {
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

  minutes(adId: string, from: number, to: number): Promise<Map<number, BucketCounts>> {
    // NOTE: no key is asked for past the next minute: none can exist yet, and a far `to` would be a
    // pipeline of thousands of empty reads.
    const epochMinutes = minutesIn(from, Math.min(to, Date.now() + MINUTE_MS))
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

  top(from: number, to: number, limit: number): Promise<TopAd[]> {
    return this.policy.execute(async () => {
      const keys = minutesIn(from, to).map((m) => this.keys.topMinute(m))
      const flat = (await this.redis.call('ZUNION', keys.length, ...keys, 'WITHSCORES')) as string[]
      const ranked: TopAd[] = []
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

/** The epoch minutes that start in [from, to) (epoch ms). */
function minutesIn(from: number, to: number): number[] {
  const epochMinutes: number[] = []
  for (let t = from; t < to; t += MINUTE_MS) epochMinutes.push(Math.floor(t / MINUTE_MS))
  return epochMinutes
}
