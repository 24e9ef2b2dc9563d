/**
 * Redis keys shared by the worker (writer) and the analytics API (reader).
 * TRICKY: the worker updates many ads' keys and a partition's applied offset in one Lua script, so all
 * keys must live on one Redis primary (a single node or primary/replica set, not Redis Cluster).
 */
export function redisKeys(prefix = '') {
  return {
    clickCount: (adId: string) => `${prefix}ad:${adId}:clicks`,
    viewers: (adId: string) => `${prefix}ad:${adId}:viewers`,
    /** Highest Kafka offset of a partition already applied to Redis (see click-worker's redis-store). */
    appliedOffset: (topic: string, partition: number) => `${prefix}applied:${topic}:${partition}`,
  }
}
export type RedisKeys = ReturnType<typeof redisKeys>
