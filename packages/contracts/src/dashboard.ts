import { Type } from 'typebox'
import { AdAnalytics, Rate, TopAds } from './analytics.js'
import { AD_IDS_PATTERN } from './text.js'

// What the advertisers' dashboard (apps/dashboard, served by analytics-api at /dashboard/) reads beyond the
// per-ad routes: the whole system's traffic in one request, so that a dashboard refreshing every few
// seconds costs one request per refresh, however many ads there are.

const Count = (description: string) => Type.Integer({ minimum: 0, description })

/** The whole system's traffic over one time range. */
export const TrafficTotals = Type.Object({
  from: Type.String({ format: 'date-time', description: 'Start of the range: a minute start, UTC.' }),
  to: Type.String({
    format: 'date-time',
    description:
      'End of the range (excluded): the end of the current minute; the counts hold what has arrived so far.',
  }),
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

/** How far back `today_from` may start. */
export const TODAY_MAX_HOURS = 48
/** The overview's top ads: over the last 5 minutes (the current one included), 10 per list. */
export const OVERVIEW_TOP_WINDOW_MINUTES = 5
export const OVERVIEW_TOP_LIMIT = 10
/**
 * The impressions an ad needs over the overview's window to rank by ctr: lower than GET /ads/top's
 * default (DEFAULT_CTR_MIN_IMPRESSIONS, 100 over any window up to an hour), since 5 minutes of a modest
 * campaign rarely reach 100, yet enough that one click on a handful of impressions does not top the list.
 */
export const OVERVIEW_CTR_MIN_IMPRESSIONS = 20

export const OverviewQuery = Type.Object(
  {
    today_from: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'Start of "today" as the viewer sees it (their local midnight), rounded down to its minute; at most 48 hours before now and not in a minute yet to come (400 `BAD_TIME_RANGE`); default: midnight UTC.',
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
      pattern: AD_IDS_PATTERN,
      description: `Comma-separated ad ids, at most ${MAX_ANALYTICS_ADS}.`,
      examples: ['1,2,3'],
    }),
  },
  { additionalProperties: false },
)

/** `GET /analytics/ads?ids=`: each named ad's lifetime analytics, in the order named (unknown ids left out). */
export const AdsAnalytics = Type.Object({ ads: Type.Array(AdAnalytics) }, { $id: 'AdsAnalytics' })
export type AdsAnalytics = Type.Static<typeof AdsAnalytics>
