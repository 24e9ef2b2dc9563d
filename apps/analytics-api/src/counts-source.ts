import type { InvalidReason } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClickCounts } from './click-counts.js'
import type { PostgresClickCounts } from './postgres-click-counts.js'
import type { BucketCounts } from './time-buckets.js'
import type { WindowCounts } from './top-ads.js'
import type { EventTally } from './video-figures.js'

/** Set on a reply answered without one of the stores: `redis-unavailable` or `postgres-unavailable`. */
export const DEGRADED_HEADER = 'x-analytics-degraded'
/** Which store answered (`redis` or `postgres`); the reply is the same either way. */
export const SOURCE_HEADER = 'x-analytics-source'

export interface Counts {
  clicks: number
  uniqueViewers: number
  invalid: Record<InvalidReason, number>
  playbackSum: number
  /** Valid events by name and errors by code. */
  events: EventTally
  /** Distinct viewers of valid impressions. */
  impressionViewers: number
  /** Invalid events (bots), every event type together. */
  invalidEvents: number
}

/**
 * What both stores can answer: Redis from its live counters, PostgreSQL from the clicks, the events and
 * their rollups.
 */
export interface CountsSource {
  /** One ad's lifetime counts. */
  forAd(adId: string): Promise<Counts>
  /** Several ads' lifetime counts, in the order given, in one read (GET /analytics/ads). */
  forAds(adIds: string[]): Promise<Counts[]>
  /**
   * One ad's clicks and valid events per minute in [from, to) (epoch ms), by the minute's start; empty
   * minutes omitted.
   */
  minutes(adId: string, from: number, to: number): Promise<Map<number, BucketCounts>>
  /**
   * Valid clicks and impressions per ad over the minutes in [from, to) (epoch ms), every ad with either,
   * unordered: top-ads.ts ranks them, the same for both stores.
   */
  window(from: number, to: number): Promise<WindowCounts[]>
}

export interface CountsSources {
  redis: ClickCounts
  postgres: PostgresClickCounts
}

/**
 * Answers from Redis, or from PostgreSQL when Redis cannot (its circuit is open or the read failed),
 * and says on the reply which store answered and, when one was down, which.
 * `redisHolds: false` reads PostgreSQL without calling the reply degraded: Redis does not keep what is
 * asked (a range older than its minute keys). `postgresDown` is the caller's knowledge that PostgreSQL
 * just failed: Redis's answer is then marked, and without Redis there is no one to ask (503).
 */
export async function readCounts<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  sources: CountsSources,
  read: (source: CountsSource) => Promise<T>,
  { redisHolds = true, postgresDown = false } = {},
): Promise<T> {
  if (redisHolds && sources.redis.available) {
    try {
      const answer = await read(sources.redis)
      reply.header(SOURCE_HEADER, 'redis')
      if (postgresDown) reply.header(DEGRADED_HEADER, 'postgres-unavailable')
      return answer
    } catch (err) {
      request.log.warn({ err }, 'redis unavailable; reading postgres')
    }
  }
  if (postgresDown) {
    throw new HttpError(503, 'analytics are unavailable right now; retry shortly', 'STORES_UNAVAILABLE', {
      'retry-after': '5',
    })
  }
  const answer = await read(sources.postgres)
  reply.header(SOURCE_HEADER, 'postgres')
  if (redisHolds) reply.header(DEGRADED_HEADER, 'redis-unavailable')
  return answer
}
