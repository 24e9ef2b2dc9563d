import { AdAnalytics, AnalyticsQuery, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdStore } from '../ad-store.js'
import type { ClickCounts } from '../click-counts.js'

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ ads: AdStore; counts: ClickCounts }> = async (
  app,
  { ads, counts },
) => {
  app.get(
    '/ads/analytics',
    {
      schema: {
        summary: 'Click analytics of one ad',
        querystring: AnalyticsQuery,
        response: { 200: AdAnalytics, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { ad_id } = request.query
      const [exists, live] = await Promise.all([ads.exists(ad_id), counts.forAd(ad_id)])
      if (!exists) throw new HttpError(404, `ad "${ad_id}" does not exist`, 'AD_NOT_FOUND')
      return { ad_id, click_count: live.clicks, unique_viewers: live.uniqueViewers }
    },
  )
}
