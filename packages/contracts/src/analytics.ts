import { Type } from 'typebox'
import { AdId } from './ad.js'

export const AnalyticsQuery = Type.Object({ ad_id: AdId }, { additionalProperties: false })
export type AnalyticsQuery = Type.Static<typeof AnalyticsQuery>

/** `GET /ads/analytics?ad_id=` reply: the old shape plus `unique_viewers`. */
export const AdAnalytics = Type.Object(
  {
    ad_id: AdId,
    click_count: Type.Integer({ minimum: 0, description: 'Clicks recorded for the ad, each counted once.' }),
    unique_viewers: Type.Integer({
      minimum: 0,
      description: 'Distinct viewers (IP + user agent), estimated with a HyperLogLog (about 0.8% error).',
    }),
  },
  { $id: 'AdAnalytics' },
)
export type AdAnalytics = Type.Static<typeof AdAnalytics>
