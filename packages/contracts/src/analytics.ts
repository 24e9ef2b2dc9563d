import { Type } from 'typebox'
import { AdId } from './ad.js'
import { ErrorCounts, PlaybackEventCounts } from './events.js'

/** The earliest and latest instants a time range may name: what PostgreSQL and ISO 8601 both hold. */
export const EARLIEST_TIME = '0001-01-01T00:00:00.000Z'
export const LATEST_TIME = '9999-12-31T23:59:59.999Z'

const RANGE_RULE = `\`from\` must be earlier than \`to\` (an empty range, from equal to to, is a 400 BAD_TIME_RANGE), both between ${EARLIEST_TIME} and ${LATEST_TIME}.`

/** A bound of a half-open time range [from, to). */
const RangeBound = (description: string, example: string) =>
  Type.String({ format: 'date-time', description: `${description} ${RANGE_RULE}`, examples: [example] })

// Examples an hour apart: a client (or the Postman collection) copying them gets a valid range.
const FROM_EXAMPLE = '2026-01-01T00:00:00.000Z'
const TO_EXAMPLE = '2026-01-01T01:00:00.000Z'

export const AnalyticsQuery = Type.Object(
  {
    ad_id: AdId,
    from: Type.Optional(
      RangeBound(
        'Count only clicks received at or after this time; without it, from the earliest time there is.',
        FROM_EXAMPLE,
      ),
    ),
    to: Type.Optional(RangeBound('Count only clicks received before this time.', TO_EXAMPLE)),
  },
  { additionalProperties: false },
)
export type AnalyticsQuery = Type.Static<typeof AnalyticsQuery>

export const Rate = (description: string) =>
  Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description })

/** What VAST events add to a click count, over a whole ad, a range or a bucket alike. */
const videoFigures = () => ({
  impressions: Type.Integer({
    minimum: 0,
    description: 'Valid impressions, each impression id counted once.',
  }),
  ctr: Rate('click_count / impressions; null without impressions.'),
  completion_rate: Rate('events.complete / impressions; null without impressions.'),
  events: PlaybackEventCounts,
  errors: ErrorCounts,
})

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
    ...videoFigures(),
    unique_impression_viewers: Type.Integer({
      minimum: 0,
      description: 'Distinct viewers of valid impressions, estimated with a HyperLogLog (about 0.8% error).',
    }),
    invalid_event_count: Type.Integer({
      minimum: 0,
      description: 'Events (impressions included, clicks not) stored but not counted: bots.',
    }),
  },
  {
    $id: 'AdAnalytics',
    // An ad shown 400 times: the docs' and the Postman collection's example, its rates consistent.
    examples: [
      {
        ad_id: '1',
        click_count: 12,
        unique_viewers: 11,
        invalid_click_count: 2,
        invalid_clicks: { bot: 1, repeat: 1, over_budget: 0, inactive_ad: 0 },
        avg_playback_time: 9.5,
        impressions: 400,
        ctr: 0.03,
        completion_rate: 0.6,
        events: {
          start: 380,
          first_quartile: 350,
          midpoint: 310,
          third_quartile: 280,
          complete: 240,
          skip: 60,
          pause: 25,
          resume: 20,
          mute: 40,
          unmute: 12,
        },
        errors: { '402': 3, '405': 1, unknown: 2 },
        unique_impression_viewers: 371,
        invalid_event_count: 17,
      },
    ],
  },
)
export type AdAnalytics = Type.Static<typeof AdAnalytics>

export const Granularity = Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')])
export type Granularity = Type.Static<typeof Granularity>

/** Most buckets one time-series request may ask for. */
export const MAX_TIMESERIES_BUCKETS = 1500

export const TimeseriesQuery = Type.Object(
  {
    from: Type.Optional(RangeBound('Start (inclusive); default: one hour before `to`.', FROM_EXAMPLE)),
    to: Type.Optional(RangeBound('End (exclusive); default: now.', TO_EXAMPLE)),
    granularity: Type.Optional(Granularity),
  },
  { additionalProperties: false },
)
export type TimeseriesQuery = Type.Static<typeof TimeseriesQuery>

export const TimeseriesBucket = Type.Object({
  start: Type.String({ format: 'date-time', description: 'Bucket start, UTC.' }),
  click_count: Type.Integer({ minimum: 0 }),
  invalid_click_count: Type.Integer({ minimum: 0 }),
  ...videoFigures(),
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

/** The impressions an ad needs in the window to rank by ctr, unless the request says otherwise. */
export const DEFAULT_CTR_MIN_IMPRESSIONS = 100

export const TopAdsQuery = Type.Object(
  {
    window: Type.String({
      pattern: '^([1-9]|[1-5][0-9]|60)m$',
      default: '5m',
      description: 'Sliding window of whole minutes, 1m to 60m, ending now (the current minute included).',
    }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
    metric: Type.Union([Type.Literal('clicks'), Type.Literal('impressions'), Type.Literal('ctr')], {
      default: 'clicks',
      description: 'What to rank by: valid clicks, valid impressions, or click-through rate.',
    }),
    min_impressions: Type.Integer({
      minimum: 1,
      maximum: 1_000_000_000,
      default: DEFAULT_CTR_MIN_IMPRESSIONS,
      description: 'For metric=ctr: ads with fewer impressions in the window are left out.',
    }),
  },
  { additionalProperties: false },
)
export type TopAdsQuery = Type.Static<typeof TopAdsQuery>

export const TopAds = Type.Object(
  {
    window: Type.String(),
    from: Type.String({ format: 'date-time' }),
    metric: Type.String(),
    ads: Type.Array(
      Type.Object({
        ad_id: AdId,
        click_count: Type.Integer({ minimum: 0 }),
        impressions: Type.Integer({ minimum: 0 }),
        ctr: Rate('click_count / impressions in the window; null without impressions.'),
      }),
    ),
  },
  {
    $id: 'TopAds',
    examples: [
      {
        window: '60m',
        from: '2026-01-01T00:00:00.000Z',
        metric: 'ctr',
        ads: [
          { ad_id: '2', click_count: 9, impressions: 150, ctr: 0.06 },
          { ad_id: '1', click_count: 12, impressions: 400, ctr: 0.03 },
        ],
      },
    ],
  },
)
export type TopAds = Type.Static<typeof TopAds>
