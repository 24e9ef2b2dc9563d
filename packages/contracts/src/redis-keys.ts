/**
 * Redis keys shared by the worker (writer) and the analytics API (reader).
 * TRICKY: the worker updates many ads' keys and a partition's applied offset in one Lua script, so all
 * keys must live on one Redis primary (a single node or primary/replica set, not Redis Cluster).
 */
export function redisKeys(prefix = '') {
  return {
    clickCount: (adId: string) => `${prefix}ad:${adId}:clicks`,
    viewers: (adId: string) => `${prefix}ad:${adId}:viewers`,
    /** Hash of invalid click counts by reason. */
    invalid: (adId: string) => `${prefix}ad:${adId}:invalid`,
    /**
     * Hash of one ad's clicks and events in one minute (epoch minutes): field v = valid clicks, i = invalid
     * clicks, `e:<event>` = valid events of that type, `x:<code>` = valid errors by code.
     */
    minute: (adId: string, epochMinute: number | string) => `${prefix}ad:${adId}:m:${epochMinute}`,
    /** Sorted set of valid clicks per ad in one minute, for top ads over a sliding window. */
    topMinute: (epochMinute: number | string) => `${prefix}top:m:${epochMinute}`,
    /** Hash of one ad's valid events by type (impression, start … unmute, error); clicks are `clickCount`. */
    events: (adId: string) => `${prefix}ad:${adId}:events`,
    /** Hash of one ad's invalid events (bots) by type. */
    invalidEvents: (adId: string) => `${prefix}ad:${adId}:events_invalid`,
    /** Hash of one ad's valid error events by VAST error code (`unknown` without one). */
    errors: (adId: string) => `${prefix}ad:${adId}:errors`,
    /** HyperLogLog of the viewers of one ad's valid impressions. */
    impressionViewers: (adId: string) => `${prefix}ad:${adId}:impression_viewers`,
    /** Sorted set of valid impressions per ad in one minute, for top ads by impressions and ctr. */
    topImpressionsMinute: (epochMinute: number | string) => `${prefix}top:imp:m:${epochMinute}`,
    /** Sum of playback_time over valid clicks (for the mean). */
    playbackSum: (adId: string) => `${prefix}ad:${adId}:playback_sum`,
    /** Highest Kafka offset of a partition already applied to Redis (see click-worker's redis-store). */
    appliedOffset: (topic: string, partition: number) => `${prefix}applied:${topic}:${partition}`,
    /** Pattern matching every applied-offset key of a topic. */
    appliedOffsetPattern: (topic: string) => `${prefix}applied:${topic}:*`,
    /** Pattern matching every click-count key. */
    clickCountPattern: () => `${prefix}ad:*:clicks`,
    /** Held while reconciliation rebuilds counts; the worker's Redis updates wait for it. */
    reconcileLock: (topic: string) => `${prefix}reconcile-lock:${topic}`,
  }
}
export type RedisKeys = ReturnType<typeof redisKeys>

/** How long the per-minute keys (`minute`, `topMinute`) live after their last write. */
export const MINUTE_BUCKET_TTL_SECONDS = 48 * 3600

/**
 * Ranges starting at most this long ago are read from Redis's per-minute keys; older ones from
 * Postgres's rollup. NOTE: an hour short of the TTL because an expired minute reads as an empty one,
 * not as an error: the margin absorbs clock skew between the worker's and the reader's hosts and a read
 * still running when the oldest minutes expire, either of which would otherwise answer zeros.
 */
export const REDIS_READ_RANGE_MS = MINUTE_BUCKET_TTL_SECONDS * 1000 - 3_600_000

/**
 * The fields of a minute hash (`redisKeys().minute`), in one place for the worker's apply script, its
 * reconciliation and the readers: valid and invalid clicks, then valid events and valid errors by code.
 */
export const MINUTE_FIELDS = {
  validClicks: 'v',
  invalidClicks: 'i',
  /** `e:<event>`: valid events of one type (impression, start … unmute, error). */
  eventPrefix: 'e:',
  /** `x:<code>`: valid error events by VAST code, or `unknown` without one. */
  errorPrefix: 'x:',
} as const
export const minuteEventField = (event: string): string => `${MINUTE_FIELDS.eventPrefix}${event}`
export const minuteErrorField = (code: string | number | null | undefined): string =>
  `${MINUTE_FIELDS.errorPrefix}${code ?? 'unknown'}`
