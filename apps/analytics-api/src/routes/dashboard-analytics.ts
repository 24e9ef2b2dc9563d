import {
  AdsAnalytics,
  AdsAnalyticsQuery,
  ErrorBody,
  MAX_ANALYTICS_ADS,
  OVERVIEW_CTR_MIN_IMPRESSIONS,
  OVERVIEW_TOP_LIMIT,
  OVERVIEW_TOP_WINDOW_MINUTES,
  Overview,
  OverviewQuery,
  TODAY_MAX_HOURS,
} from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply, RETRY_AFTER_HEADER } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AdStore } from '../ad-store.js'
import { type CountsSources, DEGRADED_HEADER, readCounts } from '../counts-source.js'
import { CHART_MINUTES, MINUTE_MS, minuteStart, noneMatch } from '../overview.js'
import { type OverviewSource, SNAPSHOT_TTL_MS } from '../overview-source.js'
import { analyticsReply } from './analytics.js'

const UNAVAILABLE = errorReply(
  'Neither Redis nor Postgres can answer (`STORES_UNAVAILABLE`).',
  RETRY_AFTER_HEADER,
)

/**
 * What the advertisers' dashboard (apps/dashboard) reads beyond the per-ad routes: the whole system in
 * one request, and many ads' figures in one request, so that a refresh costs one request whatever the
 * number of ads.
 */
export const dashboardAnalyticsRoutes: FastifyPluginAsyncTypebox<{
  ads: AdStore
  counts: CountsSources
  overview: OverviewSource
  now: () => number
}> = async (app, { ads, counts, overview, now }) => {
  app.get(
    '/analytics/overview',
    {
      schema: {
        summary: "The whole system's traffic: today, the last hour, its minutes and the top ads now",
        description: `Totals for today (from \`today_from\`, default midnight UTC) and for the last hour (the ${CHART_MINUTES} minutes of \`minutes\`): valid impressions, clicks and completes, ctr, completion rate, invalid clicks by reason, invalid events and the invalid share of all traffic, summed from Postgres's per-minute rollups (exact, by receive time). \`minutes\`: the last 60 whole minutes and the current one, oldest first, every minute present. \`top\`: the top ${OVERVIEW_TOP_LIMIT} ads over the last ${OVERVIEW_TOP_WINDOW_MINUTES} minutes by clicks, impressions and ctr (ctr among ads with at least ${OVERVIEW_CTR_MIN_IMPRESSIONS} impressions), as GET /ads/top ranks them. Every request within ${SNAPSHOT_TTL_MS / 1000} s shares one read of the stores, however many dashboards poll. Poll it conditionally: the reply has a weak \`ETag\` of its content (all but \`generated_at\`) and \`Cache-Control: no-cache\`; a request with that tag in \`If-None-Match\` gets 304 without a body while nothing changed.`,
        querystring: OverviewQuery,
        response: {
          200: Overview,
          304: Type.Null({
            'x-response-description': 'Nothing changed since the `If-None-Match` given.',
          }),
          400: errorReply(
            `An invalid parameter (\`VALIDATION_FAILED\`), or \`today_from\` more than ${TODAY_MAX_HOURS} hours ago or in a minute yet to come (\`BAD_TIME_RANGE\`).`,
          ),
          503: UNAVAILABLE,
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const todayFrom = todayStart(request.query.today_from, now())
      const snapshot = await overview.current().catch((err) => {
        request.log.warn({ err }, 'the overview cannot be read')
        throw unavailable()
      })
      // A snapshot read just before a new minute began has no minute after its own.
      const built = overview.overview(snapshot, Math.min(todayFrom, minuteStart(snapshot.at)))
      reply.header('cache-control', 'no-cache').header('etag', built.etag)
      if (snapshot.redisDown) reply.header(DEGRADED_HEADER, 'redis-unavailable')
      if (noneMatch(request.headers['if-none-match'], built.etag)) return reply.code(304).send(null)
      return built.overview
    },
  )

  app.get(
    '/analytics/ads',
    {
      schema: {
        summary: 'Lifetime click and video analytics of several ads',
        description: `Each named ad's figures as GET /ads/analytics answers them (lifetime, from Redis; from Postgres when Redis cannot answer, with \`${DEGRADED_HEADER}: redis-unavailable\`), in the order named; ids that are no ad are left out, an id named twice is answered once. At most ${MAX_ANALYTICS_ADS} ids.`,
        querystring: AdsAnalyticsQuery,
        response: {
          200: AdsAnalytics,
          400: errorReply(
            `An id that is not an ad id, or more than ${MAX_ANALYTICS_ADS} ids (\`VALIDATION_FAILED\`).`,
          ),
          503: UNAVAILABLE,
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const ids = adIds(request.query.ids)
      // NOTE: as GET /ads/analytics: Postgres being down does not stop an answer; every id is then
      // answered from Redis (unknown ones as zeros), and the reply says Postgres was not asked.
      const known = await ads.existing(ids).catch((err) => {
        request.log.warn({ err }, 'postgres unavailable; not checking that the ads exist')
        return undefined
      })
      const named = known ? ids.filter((id) => known.has(id)) : ids
      if (named.length === 0) return { ads: [] }
      const results = await readCounts(request, reply, counts, (source) => source.forAds(named), {
        postgresDown: known === undefined,
      })
      return { ads: named.map((id, i) => analyticsReply(id, results[i] as (typeof results)[number])) }
    },
  )
}

const unavailable = () =>
  new HttpError(503, 'analytics are unavailable right now; retry shortly', 'STORES_UNAVAILABLE', {
    'retry-after': '5',
  })

/**
 * The first minute of today (epoch ms) from `today_from`: its minute, which must have begun and be at
 * most TODAY_MAX_HOURS old; midnight UTC without it.
 */
function todayStart(text: string | undefined, now: number): number {
  const current = minuteStart(now)
  if (text === undefined) return current - (current % 86_400_000)
  // NOTE: Date.parse is NaN for a date-time the format accepts but no clock shows (a leap second).
  const from = minuteStart(Date.parse(text))
  const earliest = current - TODAY_MAX_HOURS * 60 * MINUTE_MS
  if (!(from >= earliest && from <= current)) {
    throw new HttpError(
      400,
      `\`today_from\` must be within the last ${TODAY_MAX_HOURS} hours and not in the future`,
      'BAD_TIME_RANGE',
    )
  }
  return from
}

/**
 * The ad ids of `ids`, each once, in the order named. The query's pattern (contracts' AD_IDS_PATTERN) has
 * already refused anything but 1 to MAX_ANALYTICS_ADS ad ids.
 */
const adIds = (text: string): string[] => [...new Set(text.split(','))]
