import { Type } from 'typebox'
import { AdId } from './ad.js'

export const AnalyticsQuery = Type.Object(
  {
    ad_id: AdId,
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Count only clicks received at or after this time.' }),
    ),
    to: Type.Optional(
      Type.String({ format: 'date-time', description: 'Count only clicks received before this time.' }),
    ),
  },
  { additionalProperties: false },
)
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

export const Granularity = Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')])
export type Granularity = Type.Static<typeof Granularity>

/** Most buckets one time-series request may ask for. */
export const MAX_TIMESERIES_BUCKETS = 1500

export const TimeseriesQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Start (inclusive); default: one hour before `to`.' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); default: now.' })),
    granularity: Type.Optional(Granularity),
  },
  { additionalProperties: false },
)
export type TimeseriesQuery = Type.Static<typeof TimeseriesQuery>

export const TimeseriesBucket = Type.Object({
  start: Type.String({ format: 'date-time', description: 'Bucket start, UTC.' }),
  click_count: Type.Integer({ minimum: 0 }),
  invalid_click_count: Type.Integer({ minimum: 0 }),
})

/** Clicks per bucket by receive time, UTC, every bucket present (empty ones as zero). */
export const Timeseries = Type.Object(
  {
    ad_id: AdId,
    granularity: Granularity,
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    buckets: Type.Array(TimeseriesBucket),
  },
  { $id: 'Timeseries' },
)
export type Timeseries = Type.Static<typeof Timeseries>

export const TopAdsQuery = Type.Object(
  {
    window: Type.String({
      pattern: '^([1-9]|[1-5][0-9]|60)m$',
      default: '5m',
      description: 'Sliding window of whole minutes, 1m to 60m, ending now (the current minute included).',
    }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  },
  { additionalProperties: false },
)
export type TopAdsQuery = Type.Static<typeof TopAdsQuery>

export const TopAds = Type.Object(
  {
    window: Type.String(),
    from: Type.String({ format: 'date-time' }),
    ads: Type.Array(Type.Object({ ad_id: AdId, click_count: Type.Integer({ minimum: 0 }) })),
  },
  { $id: 'TopAds' },
)
export type TopAds = Type.Static<typeof TopAds>
