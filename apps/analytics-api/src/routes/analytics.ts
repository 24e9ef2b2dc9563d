import {
  AdAnalytics,
  AdParams,
  AnalyticsQuery,
  EARLIEST_TIME,
  ErrorBody,
  LATEST_TIME,
  MAX_TIMESERIES_BUCKETS,
  REDIS_READ_RANGE_MS,
  Timeseries,
  TimeseriesQuery,
  TopAds,
  TopAdsQuery,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply, RETRY_AFTER_HEADER } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdStore } from '../ad-store.js'
import {
  type Counts,
  type CountsSource,
  type CountsSources,
  DEGRADED_HEADER,
  readCounts,
  SOURCE_HEADER,
} from '../counts-source.js'
import { bucketCount, bucketStarts, fillBuckets } from '../time-buckets.js'
import { rankTopAds } from '../top-ads.js'
import { videoFigures } from '../video-figures.js'

const MINUTE_MS = 60_000

const BAD_RANGE =
  '`BAD_TIME_RANGE`: `from` not earlier than `to` (an empty range included), or a time outside 0001-01-01 to 9999-12-31 UTC'
const NO_AD = errorReply('The ad does not exist (`AD_NOT_FOUND`).')

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ ads: AdStore; counts: CountsSources }> = async (
  app,
  { ads, counts },
) => {
  app.get(
    '/ads/analytics',
    {
      schema: {
        summary: 'Click and video analytics of one ad',
        description: `Clicks, impressions, ctr, completion rate, playback events and errors. Lifetime counts come from Redis. With \`from\`/\`to\` (either or both) the counts cover clicks and events received in [from, to) and come from Postgres; \`from\` must be earlier than \`to\` (from equal to to is an empty range, refused as 400 \`BAD_TIME_RANGE\`). When Redis cannot answer they come from Postgres and the reply carries \`${DEGRADED_HEADER}: redis-unavailable\`; 503 only when neither can answer.`,
        querystring: AnalyticsQuery,
        response: {
          200: AdAnalytics,
          400: errorReply(`A missing or invalid parameter (\`VALIDATION_FAILED\`), or ${BAD_RANGE}.`),
          404: NO_AD,
          503: errorReply(
            'Neither Redis nor Postgres can answer (`STORES_UNAVAILABLE`).',
            RETRY_AFTER_HEADER,
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { ad_id } = request.query
      if (request.query.from !== undefined || request.query.to !== undefined) {
        // A time range is answered from the clicks and events themselves: exact, unique viewers included.
        const { from, to } = timeRange(request.query.from, request.query.to, 0)
        if (!(await ads.exists(ad_id))) throw adNotFound(ad_id)
        reply.header(SOURCE_HEADER, 'postgres')
        return analyticsReply(ad_id, await counts.postgres.rangeCounts(ad_id, new Date(from), new Date(to)))
      }
      // NOTE: Postgres being down does not stop an answer: Redis's counts are right, the ad unchecked.
      const known = await ads.exists(ad_id).catch((err) => {
        request.log.warn({ err }, 'postgres unavailable; not checking that the ad exists')
        return undefined
      })
      if (known === false) throw adNotFound(ad_id)
      const result = await readCounts(request, reply, counts, (source) => source.forAd(ad_id), {
        postgresDown: known === undefined,
      })
      return analyticsReply(ad_id, result)
    },
  )

  app.get(
    '/ads/:id/analytics/timeseries',
    {
      schema: {
        summary: 'Clicks and video events of one ad per minute, hour or day',
        description: `Buckets are UTC and aligned to their granularity (\`from\` is rounded down), every bucket present, empty ones as zero, by the click's or event's receive time; each bucket has its own ctr and completion_rate (null without impressions). At most ${MAX_TIMESERIES_BUCKETS} buckets per request; \`from\` must be earlier than \`to\` (from equal to to is refused as 400 \`BAD_TIME_RANGE\`, as on GET /ads/analytics). Recent ranges are read from Redis, older ones from Postgres's per-minute rollup; the reply is the same either way (the \`${SOURCE_HEADER}\` header says which).`,
        params: AdParams,
        querystring: TimeseriesQuery,
        response: {
          200: Timeseries,
          400: errorReply(
            `An invalid parameter (\`VALIDATION_FAILED\`), ${BAD_RANGE}, or more than ${MAX_TIMESERIES_BUCKETS} buckets (\`TOO_MANY_BUCKETS\`).`,
          ),
          404: NO_AD,
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const adId = request.params.id
      const granularity = request.query.granularity ?? 'minute'
      const { from, to } = timeRange(request.query.from, request.query.to, 3_600_000)
      const count = bucketCount(from, to, granularity)
      if (count > MAX_TIMESERIES_BUCKETS) {
        throw new HttpError(
          400,
          `the range holds ${count} ${granularity} buckets; at most ${MAX_TIMESERIES_BUCKETS} per request: narrow it or use a coarser granularity`,
          'TOO_MANY_BUCKETS',
        )
      }
      const starts = bucketStarts(from, to, granularity)
      if (!(await ads.exists(adId))) throw adNotFound(adId)
      const rangeStart = starts[0] ?? from
      const redisHolds = rangeStart >= Date.now() - REDIS_READ_RANGE_MS
      const read = (source: CountsSource) => source.minutes(adId, rangeStart, to)
      const minutes = await readCounts(request, reply, counts, read, { redisHolds })
      return {
        ad_id: adId,
        granularity,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        buckets: fillBuckets(starts, granularity, minutes),
      }
    },
  )

  app.get(
    '/ads/top',
    {
      schema: {
        summary: 'The top ads over a sliding window, by clicks, impressions or ctr',
        description:
          'Valid clicks or impressions per ad, or click-through rate, over the last `window` minutes (the current minute included), highest first, then by ad id, from per-minute sorted sets in Redis (Postgres rollups when Redis is down). `metric=clicks` lists ads with a click, `impressions` ads with an impression, and `ctr` ads with at least `min_impressions` impressions in the window. Every entry has its click_count, impressions and ctr.',
        querystring: TopAdsQuery,
        response: {
          200: TopAds,
          400: errorReply(
            '`window`, `limit`, `metric` or `min_impressions` out of its bounds (`VALIDATION_FAILED`).',
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { window, limit, metric, min_impressions } = request.query
      const windowMinutes = Number.parseInt(window, 10)
      const current = Math.floor(Date.now() / MINUTE_MS)
      const from = (current - windowMinutes + 1) * MINUTE_MS
      const ads = await readCounts(request, reply, counts, (source) =>
        source.window(from, (current + 1) * MINUTE_MS),
      )
      return {
        window,
        from: new Date(from).toISOString(),
        metric,
        ads: rankTopAds(ads, metric, min_impressions, limit),
      }
    },
  )
}

const adNotFound = (adId: string) => new HttpError(404, `ad "${adId}" does not exist`, 'AD_NOT_FOUND')

export function analyticsReply(ad_id: string, counts: Counts) {
  const invalidTotal = Object.values(counts.invalid).reduce((a, b) => a + b, 0)
  return {
    ad_id,
    click_count: counts.clicks,
    unique_viewers: counts.uniqueViewers,
    invalid_click_count: invalidTotal,
    invalid_clicks: counts.invalid,
    avg_playback_time: counts.clicks ? Math.round((counts.playbackSum / counts.clicks) * 100) / 100 : 0,
    ...videoFigures(counts.clicks, counts.events),
    unique_impression_viewers: counts.impressionViewers,
    invalid_event_count: counts.invalidEvents,
  }
}

const EARLIEST_MS = Date.parse(EARLIEST_TIME)
const LATEST_MS = Date.parse(LATEST_TIME)

/**
 * [from, to) in epoch ms from optional ISO strings; defaults: to = now, from = to - defaultSpanMs (or, without
 * a span, the earliest time accepted, so that `to` alone means "everything before"). Every route that takes
 * a range reads it here, so they all refuse the same ranges.
 */
function timeRange(fromText: string | undefined, toText: string | undefined, defaultSpanMs: number) {
  const to = toText === undefined ? Date.now() : Date.parse(toText)
  const from =
    fromText === undefined ? (defaultSpanMs ? to - defaultSpanMs : EARLIEST_MS) : Date.parse(fromText)
  // NOTE: a date-time the format accepts may still be one PostgreSQL or toISOString cannot hold (year
  // 0000, or past 9999 once its offset is applied) or none at all (a leap second): refused here, not a 500.
  for (const [name, ms] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!(ms >= EARLIEST_MS && ms <= LATEST_MS)) {
      throw new HttpError(
        400,
        `\`${name}\` must be a time between ${EARLIEST_TIME} and ${LATEST_TIME}`,
        'BAD_TIME_RANGE',
      )
    }
  }
  // An empty range (from equal to to) is a client's mistake rather than a question with an empty answer.
  if (!(from < to)) throw new HttpError(400, '`from` must be earlier than `to`', 'BAD_TIME_RANGE')
  return { from, to }
}
