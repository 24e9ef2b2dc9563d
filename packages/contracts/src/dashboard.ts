import { Type } from 'typebox'
import { AdAnalytics, Rate, TopAds } from './analytics.js'

// What the advertisers' dashboard (apps/dashboard, served by analytics-api at /dashboard/) reads beyond the
// per-ad routes: the whole system's traffic in one request, so that a dashboard refreshing every few
// seconds costs one request per refresh, however many ads there are.

const Count = (description: string) => Type.Integer({ minimum: 0, description })

/** The whole system's traffic over one time range. */
export const TrafficTotals = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  impressions: Count('Valid impressions.'),
  click_count: Count('Valid clicks.'),
  completes: Count('Valid complete events.'),
  ctr: Rate('click_count / impressions; null without impressions.'),
  completion_rate: Rate('completes / impressions; null without impressions.'),
  invalid_clicks: Type.Object(
    {
      bot: Count('Clicks from bots.'),
      repeat: Count('Repeated clicks.'),
      over_budget: Count('Clicks over the viewer budget.'),
      inactive_ad: Count('Clicks on paused or unknown ads.'),
    },
    { description: 'Invalid clicks by reason.' },
  ),
  invalid_events: Count('Invalid events (impressions and playback events from bots).'),
  invalid_share: Rate(
    '(invalid clicks + invalid events) / (all clicks + all events, valid or not); null without traffic.',
  ),
})
export type TrafficTotals = Type.Static<typeof TrafficTotals>

export const OverviewQuery = Type.Object(
  {
    today_from: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'Start of "today" as the viewer sees it (their local midnight), at most 48 hours before now; default: midnight UTC.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type OverviewQuery = Type.Static<typeof OverviewQuery>

export const OverviewMinute = Type.Object({
  start: Type.String({ format: 'date-time', description: 'Minute start, UTC.' }),
  impressions: Count('Valid impressions in the minute.'),
  click_count: Count('Valid clicks in the minute.'),
})

/** `GET /analytics/overview`: today, the last hour, its minutes, and the top ads now. */
export const Overview = Type.Object(
  {
    generated_at: Type.String({ format: 'date-time' }),
    today: TrafficTotals,
    last_hour: TrafficTotals,
    minutes: Type.Array(OverviewMinute, {
      description: 'The last 60 whole minutes and the current one, oldest first, every minute present.',
    }),
    top: Type.Object({
      clicks: TopAds.properties.ads,
      impressions: TopAds.properties.ads,
      ctr: TopAds.properties.ads,
    }),
  },
  { $id: 'Overview' },
)
export type Overview = Type.Static<typeof Overview>

/** Most ads one `GET /analytics/ads` may name. */
export const MAX_ANALYTICS_ADS = 100

export const AdsAnalyticsQuery = Type.Object(
  {
    ids: Type.String({
      minLength: 1,
      maxLength: MAX_ANALYTICS_ADS * 65,
      description: `Comma-separated ad ids, at most ${MAX_ANALYTICS_ADS}.`,
      examples: ['1,2,3'],
    }),
  },
  { additionalProperties: false },
)

/** `GET /analytics/ads?ids=`: each named ad's lifetime analytics, in the order named (unknown ids left out). */
export const AdsAnalytics = Type.Object({ ads: Type.Array(AdAnalytics) }, { $id: 'AdsAnalytics' })
export type AdsAnalytics = Type.Static<typeof AdsAnalytics>
