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
        summary: 'Click analytics of one ad',
        description: `Lifetime counts come from Redis. With \`from\`/\`to\` (either or both) the counts cover clicks received in [from, to) and come from Postgres; \`from\` must be earlier than \`to\` (from equal to to is an empty range, refused as 400 \`BAD_TIME_RANGE\`). When Redis cannot answer they come from Postgres and the reply carries \`${DEGRADED_HEADER}: redis-unavailable\`; 503 only when neither can answer.`,
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
        // A time range is answered from the clicks themselves: exact, unique viewers included.
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
        summary: 'Clicks of one ad per minute, hour or day',
        description: `Buckets are UTC and aligned to their granularity (\`from\` is rounded down), every bucket present, empty ones as zero, by the click's receive time. At most ${MAX_TIMESERIES_BUCKETS} buckets per request; \`from\` must be earlier than \`to\` (from equal to to is refused as 400 \`BAD_TIME_RANGE\`, as on GET /ads/analytics). Recent ranges are read from Redis, older ones from Postgres's per-minute rollup; the reply is the same either way (the \`${SOURCE_HEADER}\` header says which).`,
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
        summary: 'The most clicked ads over a sliding window',
        description:
          'Valid clicks per ad over the last `window` minutes (the current minute included), highest first, from per-minute sorted sets in Redis (Postgres rollup when Redis is down).',
        querystring: TopAdsQuery,
        response: {
          200: TopAds,
          400: errorReply('`window` or `limit` out of its bounds (`VALIDATION_FAILED`).'),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const windowMinutes = Number.parseInt(request.query.window, 10)
      const current = Math.floor(Date.now() / MINUTE_MS)
      const from = (current - windowMinutes + 1) * MINUTE_MS
      const ranked = await readCounts(request, reply, counts, (source) =>
        source.top(from, (current + 1) * MINUTE_MS, request.query.limit),
      )
      return { window: request.query.window, from: new Date(from).toISOString(), ads: ranked }
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
