import { Type } from 'typebox'
import { AdId } from './ad.js'

export const AnalyticsQuery = Type.Object({ ad_id: AdId }, { additionalProperties: false })
export type AnalyticsQuery = Type.Static<typeof AnalyticsQuery>

/** `GET /ads/analytics?ad_id=` reply: the old shape (ad_id, click_count) plus what dashboards need. */
export const AdAnalytics = Type.Object(
  {
    ad_id: AdId,
    click_count: Type.Integer({ minimum: 0, description: 'Clicks recorded for the ad, each counted once.' }),
    unique_viewers: Type.Integer({
      minimum: 0,
      description:
        'Distinct viewers of valid clicks (viewer_id, else IP + user agent), estimated with a HyperLogLog (about 0.8% error).',
    }),
    invalid_click_count: Type.Integer({
      minimum: 0,
      description: 'Clicks stored but not counted, all reasons.',
    }),
    invalid_clicks: Type.Object(
      {
        bot: Type.Integer({ minimum: 0 }),
        repeat: Type.Integer({ minimum: 0 }),
        over_budget: Type.Integer({ minimum: 0 }),
        inactive_ad: Type.Integer({ minimum: 0 }),
      },
      { description: 'Invalid clicks by reason.' },
    ),
    avg_playback_time: Type.Number({
      minimum: 0,
      description: 'Mean playback position, in seconds, of the valid clicks (0 without clicks).',
    }),
  },
  { $id: 'AdAnalytics' },
)
export type AdAnalytics = Type.Static<typeof AdAnalytics>
