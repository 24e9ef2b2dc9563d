import type { RedisKeys } from '@adtrack/contracts'
import type { Redis } from 'ioredis'

/** Live per-ad counters that the click-worker maintains in Redis. */
export class ClickCounts {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async forAd(adId: string): Promise<{ clicks: number; uniqueViewers: number }> {
    const results = await this.redis
      .pipeline()
      .get(this.keys.clickCount(adId))
      .pfcount(this.keys.viewers(adId))
      .exec()
    if (!results) throw new Error('redis pipeline returned nothing')
    for (const [err] of results) if (err) throw err
    const [[, clicks], [, viewers]] = results as [[null, string | null], [null, number]]
    return { clicks: Number(clicks ?? 0), uniqueViewers: Number(viewers) }
  }
}
