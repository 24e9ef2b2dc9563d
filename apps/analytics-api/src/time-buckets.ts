import type { Granularity } from '@adtrack/contracts'
import { addEvents, type EventTally, noEvents, type VideoFigures, videoFigures } from './video-figures.js'

const MINUTE_MS = 60_000
const STEP_MS: Record<Granularity, number> = {
  minute: MINUTE_MS,
  hour: 60 * MINUTE_MS,
  day: 24 * 60 * MINUTE_MS,
}

/** Start of the UTC bucket that holds `ms` (rounded down before 1970 too, where `%` is negative). */
export const bucketStart = (ms: number, granularity: Granularity): number => {
  const step = STEP_MS[granularity]
  return ms - (((ms % step) + step) % step)
}

/**
 * How many buckets bucketStarts(fromMs, toMs) would return, counted without building them: a range of
 * centuries by the minute must be refused by its size, not by the allocation failing.
 */
export function bucketCount(fromMs: number, toMs: number, granularity: Granularity): number {
  return Math.max(0, Math.ceil((toMs - bucketStart(fromMs, granularity)) / STEP_MS[granularity]))
}

/** Every bucket start from the one holding `fromMs` up to (not including) `toMs`, in UTC. */
export function bucketStarts(fromMs: number, toMs: number, granularity: Granularity): number[] {
  const starts: number[] = []
  for (let t = bucketStart(fromMs, granularity); t < toMs; t += STEP_MS[granularity]) starts.push(t)
  return starts
}

/** One minute's (or bucket's) clicks, valid and invalid, and valid events. */
export interface BucketCounts extends EventTally {
  valid: number
  invalid: number
}

export const emptyBucket = (): BucketCounts => ({ valid: 0, invalid: 0, ...noEvents() })

export type Bucket = { start: string; click_count: number; invalid_click_count: number } & VideoFigures

/** Sums per-minute counts into the requested buckets; empty buckets come out as zeros. */
export function fillBuckets(
  starts: number[],
  granularity: Granularity,
  minutes: Iterable<[number, BucketCounts]>,
): Bucket[] {
  const sums = new Map(starts.map((s) => [s, emptyBucket()]))
  for (const [minuteMs, counts] of minutes) {
    const bucket = sums.get(bucketStart(minuteMs, granularity))
    if (!bucket) continue
    bucket.valid += counts.valid
    bucket.invalid += counts.invalid
    addEvents(bucket, counts)
  }
  return starts.map((s) => {
    const b = sums.get(s) as BucketCounts
    return {
      start: new Date(s).toISOString(),
      click_count: b.valid,
      invalid_click_count: b.invalid,
      ...videoFigures(b.valid, b),
    }
  })
}
