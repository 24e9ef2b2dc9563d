import { AdAnalytics, AnalyticsQuery, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdStore } from '../ad-store.js'
import type { ClickCounts, Counts } from '../click-counts.js'

/** Set on a reply answered without Redis: the counts are exact but came from Postgres. */
export const DEGRADED_HEADER = 'x-analytics-degraded'

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ ads: AdStore; counts: ClickCounts }> = async (
  app,
  { ads, counts },
) => {
  app.get(
    '/ads/analytics',
    {
      schema: {
        summary: 'Click analytics of one ad',
        description: `Counts come from Redis. When Redis cannot answer they come from Postgres and the reply carries \`${DEGRADED_HEADER}: redis-unavailable\`; 503 only when neither can answer.`,
        querystring: AnalyticsQuery,
        response: { 200: AdAnalytics, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { ad_id } = request.query
      const [known, live] = await Promise.allSettled([ads.exists(ad_id), counts.forAd(ad_id)])
      if (known.status === 'fulfilled' && !known.value) {
        throw new HttpError(404, `ad "${ad_id}" does not exist`, 'AD_NOT_FOUND')
      }
      let result: Counts
      if (live.status === 'fulfilled') {
        result = live.value
        // Postgres is down but Redis answered: the ad may not exist, but its counts are right.
        if (known.status === 'rejected') reply.header(DEGRADED_HEADER, 'postgres-unavailable')
      } else {
        request.log.warn({ err: live.reason }, 'redis unavailable; counting in postgres')
        if (known.status === 'rejected') {
          throw new HttpError(
            503,
            'analytics are unavailable right now; retry shortly',
            'STORES_UNAVAILABLE',
            {
              'retry-after': '5',
            },
          )
        }
        result = await ads.clickCounts(ad_id)
        reply.header(DEGRADED_HEADER, 'redis-unavailable')
      }
      return analyticsReply(ad_id, result)
    },
  )
}

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
