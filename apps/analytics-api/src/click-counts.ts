import { INVALID_REASONS, MINUTE_FIELDS, noInvalidClicks, type RedisKeys } from '@adtrack/contracts'
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
import type { Counts, CountsSource } from './counts-source.js'
import { type BucketCounts, emptyBucket } from './time-buckets.js'
import type { WindowCounts } from './top-ads.js'

const MINUTE_MS = 60_000

/** Live per-ad counters of clicks and events that the click-worker maintains in Redis. */
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
        const bucket = minuteBucket(value as Record<string, string>)
        if (bucket) out.set((epochMinutes[i] as number) * MINUTE_MS, bucket)
      })
      return out
    })
  }

  window(from: number, to: number): Promise<WindowCounts[]> {
    return this.policy.execute(async () => {
      const minutes = minutesIn(from, to)
      const clickKeys = minutes.map((m) => this.keys.topMinute(m))
      const impressionKeys = minutes.map((m) => this.keys.topImpressionsMinute(m))
      const results = await this.redis
        .pipeline()
        .zunion(clickKeys.length, ...clickKeys, 'WITHSCORES')
        .zunion(impressionKeys.length, ...impressionKeys, 'WITHSCORES')
        .exec()
      if (!results) throw new Error('redis pipeline returned nothing')
      for (const [err] of results) if (err) throw err
      const [clicks, impressions] = results.map(([, value]) => value as string[]) as [string[], string[]]
      const ads = new Map<string, WindowCounts>()
      const ad = (id: string) => {
        const counts = ads.get(id) ?? { ad_id: id, click_count: 0, impressions: 0 }
        ads.set(id, counts)
        return counts
      }
      for (let i = 0; i < clicks.length; i += 2) ad(clicks[i] as string).click_count = Number(clicks[i + 1])
      for (let i = 0; i < impressions.length; i += 2)
        ad(impressions[i] as string).impressions = Number(impressions[i + 1])
      return [...ads.values()]
    })
  }

  forAd(adId: string): Promise<Counts> {
    return this.forAds([adId]).then(([counts]) => counts as Counts)
  }

  /** Each ad's lifetime counts, in the order given, in one pipeline (one round trip however many ads). */
  forAds(adIds: string[]): Promise<Counts[]> {
    return this.policy.execute(async () => {
      const read = this.redis.pipeline()
      for (const adId of adIds) {
        read
          .get(this.keys.clickCount(adId))
          .pfcount(this.keys.viewers(adId))
          .hgetall(this.keys.invalid(adId))
          .get(this.keys.playbackSum(adId))
          .hgetall(this.keys.events(adId))
          .hgetall(this.keys.errors(adId))
          .hgetall(this.keys.invalidEvents(adId))
          .pfcount(this.keys.impressionViewers(adId))
      }
      const results = await read.exec()
      if (!results) throw new Error('redis pipeline returned nothing')
      for (const [err] of results) if (err) throw err
      const values = results.map(([, value]) => value)
      return adIds.map((_, i) => adCounts(values.slice(i * AD_READS, (i + 1) * AD_READS)))
    })
  }
}

/** The commands forAds pipelines per ad. */
const AD_READS = 8

/** One ad's counts from its AD_READS replies, in forAds' order. */
function adCounts(replies: unknown[]): Counts {
  const [clicks, viewers, invalidHash, playback, events, errors, invalidEvents, impressionViewers] =
    replies as [
      string | null,
      number,
      Record<string, string>,
      string | null,
      Record<string, string>,
      Record<string, string>,
      Record<string, string>,
      number,
    ]
  const invalid = noInvalidClicks()
  for (const reason of INVALID_REASONS) invalid[reason] = Number(invalidHash[reason] ?? 0)
  return {
    clicks: Number(clicks ?? 0),
    uniqueViewers: Number(viewers),
    invalid,
    playbackSum: Number(playback ?? 0),
    events: { events: numbers(events), errors: numbers(errors) },
    impressionViewers: Number(impressionViewers),
    invalidEvents: Object.values(invalidEvents).reduce((sum, n) => sum + Number(n), 0),
  }
}

/** A hash's values as numbers. */
const numbers = (hash: Record<string, string>): Record<string, number> =>
  Object.fromEntries(Object.entries(hash).map(([field, n]) => [field, Number(n)]))

/**
 * One minute hash as the worker writes it (contracts' redisKeys.minute): `v`/`i` valid/invalid clicks,
 * `e:<event>` valid events, `x:<code>` valid errors by code; undefined for a minute without any.
 */
function minuteBucket(hash: Record<string, string>): BucketCounts | undefined {
  const fields = Object.entries(hash)
  if (fields.length === 0) return undefined
  const bucket = emptyBucket()
  for (const [field, n] of fields) {
    if (field === MINUTE_FIELDS.validClicks) bucket.valid = Number(n)
    else if (field === MINUTE_FIELDS.invalidClicks) bucket.invalid = Number(n)
    else if (field.startsWith(MINUTE_FIELDS.eventPrefix))
      bucket.events[field.slice(MINUTE_FIELDS.eventPrefix.length)] = Number(n)
    else if (field.startsWith(MINUTE_FIELDS.errorPrefix))
      bucket.errors[field.slice(MINUTE_FIELDS.errorPrefix.length)] = Number(n)
  }
  return bucket
}

/** The epoch minutes that start in [from, to) (epoch ms). */
function minutesIn(from: number, to: number): number[] {
  const epochMinutes: number[] = []
  for (let t = from; t < to; t += MINUTE_MS) epochMinutes.push(Math.floor(t / MINUTE_MS))
  return epochMinutes
}
