import { INVALID_REASONS, type InvalidReason, type RedisKeys } from '@adtrack/contracts'
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

export interface Counts {
  clicks: number
  uniqueViewers: number
  invalid: Record<InvalidReason, number>
  playbackSum: number
}

export const noInvalid = (): Record<InvalidReason, number> => ({
  bot: 0,
  repeat: 0,
  over_budget: 0,
  inactive_ad: 0,
})

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
      const invalid = noInvalid()
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
