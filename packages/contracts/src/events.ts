import { type TLiteral, Type } from 'typebox'
import { AdId } from './ad.js'
import { ClickMessage, MAX_PLAYBACK_SECONDS, ViewerId } from './click.js'
import { FreeText } from './text.js'

// The video events a VAST player reports for one impression of an ad, and the Kafka message that carries
// them. Clicks keep their own message (version 1) for POST /ads/click and POST /ads/clicks; an event
// message (version 2) carries everything a tag's URLs report, the click-through included.

/** Playback events a tag lists under <Tracking>, in our snake_case (VAST's own names in VAST_EVENT_NAMES). */
export const PLAYBACK_EVENTS = [
  'start',
  'first_quartile',
  'midpoint',
  'third_quartile',
  'complete',
  'skip',
  'pause',
  'resume',
  'mute',
  'unmute',
] as const
export type PlaybackEvent = (typeof PLAYBACK_EVENTS)[number]

/** Every event one impression can report; each is counted at most once per impression. */
export const AD_EVENTS = ['impression', ...PLAYBACK_EVENTS, 'error', 'click'] as const
export type AdEvent = (typeof AD_EVENTS)[number]

/** The name VAST gives each playback event in `<Tracking event="…">`. */
export const VAST_EVENT_NAMES: Record<PlaybackEvent, string> = {
  start: 'start',
  first_quartile: 'firstQuartile',
  midpoint: 'midpoint',
  third_quartile: 'thirdQuartile',
  complete: 'complete',
  skip: 'skip',
  pause: 'pause',
  resume: 'resume',
  mute: 'mute',
  unmute: 'unmute',
}

/**
 * One literal schema per value, typed as the tuple it is.
 * TRICKY: a plain `.map(Type.Literal)` is an array, not a tuple, and TypeBox's Static of a union of an
 * array is `never`: every message's `type` would have been `never` to the compiler.
 */
type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> }
const literals = <const T extends readonly string[]>(values: T) =>
  values.map((v) => Type.Literal(v)) as unknown as Literals<T>

export const AdEventType = Type.Union(literals(AD_EVENTS), {
  description:
    'impression: the ad was shown; start … unmute: VAST linear tracking events; error: the player failed (with a VAST error code); click: the viewer clicked through.',
})

/** An impression id as a token carries it: 16 random bytes, base64url. */
export const ImpressionId = Type.String({
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: 'Impression id (base64url).',
})

/** A VAST error code (VAST 4.2 §2.3.6.3: 100-999). */
export const VastErrorCode = Type.Integer({
  minimum: 100,
  maximum: 999,
  description: 'VAST error code, 100-999.',
})

export const EVENT_MESSAGE_VERSION = 2

/**
 * The Kafka event message (value of a record on the same topic as clicks, keyed by impression id),
 * JSON-encoded. `v` tells it from a click (version 1); a worker routes on `v`.
 * A `click` event is stored as the click `imp:<impression_id>`: the click rules (bots, repeats, budgets)
 * apply to it as to POST /ads/click, and a click-through and a click pixel of one impression are one click.
 */
export const EventMessage = Type.Object(
  {
    v: Type.Literal(EVENT_MESSAGE_VERSION),
    type: AdEventType,
    impression_id: ImpressionId,
    ad_id: AdId,
    /** When analytics-api served the tag (from the signed token). */
    served_at: Type.String({ format: 'date-time', description: 'When the tag was served, UTC.' }),
    received_at: Type.String({ format: 'date-time', description: 'Server receive time, UTC.' }),
    ip: FreeText({ maxLength: 64 }),
    user_agent: FreeText({ maxLength: 512 }),
    viewer_id: Type.Optional(ViewerId),
    /** For `error` only: the player's [ERRORCODE], when it gave one. */
    error_code: Type.Optional(VastErrorCode),
    /** The player's [ADPLAYHEAD], in seconds, when it gave one. */
    ad_playhead: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PLAYBACK_SECONDS })),
  },
  { $id: 'EventMessage', additionalProperties: false },
)
export type EventMessage = Type.Static<typeof EventMessage>

/** Whatever the clicks topic carries: a click (version 1) or an event (version 2). */
export const TrackingMessage = Type.Union([ClickMessage, EventMessage])
export type TrackingMessage = Type.Static<typeof TrackingMessage>

/** The click id under which an impression's click is stored; `:` keeps it apart from any client click_id. */
export const impressionClickId = (impressionId: string): string => `imp:${impressionId}`

/** Invalid events by reason: only bots for events; repeats and budgets are click rules. */
export const EVENT_INVALID_REASONS = ['bot'] as const

/** Events of one ad, each playback event present at zero. */
export const PlaybackEventCounts = Type.Object(
  Object.fromEntries(PLAYBACK_EVENTS.map((e) => [e, Type.Integer({ minimum: 0 })])) as Record<
    PlaybackEvent,
    ReturnType<typeof Type.Integer>
  >,
  { description: 'Valid playback events by type, each impression counted at most once per type.' },
)
export type PlaybackEventCounts = Type.Static<typeof PlaybackEventCounts>
export const noPlaybackEvents = (): PlaybackEventCounts =>
  Object.fromEntries(PLAYBACK_EVENTS.map((e) => [e, 0])) as PlaybackEventCounts

/** Error events by VAST error code (the code as a string key; `unknown` when the player gave none). */
export const ErrorCounts = Type.Record(
  Type.String({ pattern: '^([1-9][0-9]{2}|unknown)$' }),
  Type.Integer({ minimum: 0 }),
  {
    description: 'Error events by VAST error code; `unknown` when the player sent none.',
  },
)
export type ErrorCounts = Type.Static<typeof ErrorCounts>

// ---- HTTP: the tracking routes on ingest-api (paths under /track/, routed to ingest-api everywhere) ----

/** Path of a tracking pixel: `GET /track/:ad_id/:event`. */
export const PixelParams = Type.Object({ ad_id: AdId, event: AdEventType })
export type PixelParams = Type.Static<typeof PixelParams>

/** Path of the click-through: `GET /track/:ad_id/clickthrough`. */
export const ClickThroughParams = Type.Object({ ad_id: AdId })

/**
 * Query of a pixel and of the click-through. Every value is any text: a macro the player did not
 * substitute arrives literal (`[ERRORCODE]`, or percent-encoded), and a bad token still loads the pixel.
 * Names the tag does not use are ignored.
 */
export const TrackingQuery = Type.Object(
  {
    t: Type.Optional(Type.String({ description: 'The signed impression token from the tag.' })),
    cb: Type.Optional(Type.String({ description: '[CACHEBUSTING]: ignored; it only defeats caches.' })),
    error_code: Type.Optional(
      Type.String({ description: '[ERRORCODE], for the error URL: a VAST code 100-999.' }),
    ),
    ad_playhead: Type.Optional(Type.String({ description: '[ADPLAYHEAD]: HH:MM:SS.mmm into the ad.' })),
    content_playhead: Type.Optional(
      Type.String({ description: '[CONTENTPLAYHEAD]: HH:MM:SS.mmm into the content.' }),
    ),
  },
  { additionalProperties: true },
)
export type TrackingQuery = Type.Static<typeof TrackingQuery>

/** Query names, in one place: the tag writes them, ingest-api reads them. */
export const TRACKING_QUERY = {
  token: 't',
  cacheBusting: 'cb',
  errorCode: 'error_code',
  adPlayhead: 'ad_playhead',
  contentPlayhead: 'content_playhead',
} as const

/** The paths of the tracking routes, in one place: the tag builds them, ingest-api serves them. */
export const trackingPaths = {
  pixel: (adId: string, event: AdEvent) => `/track/${encodeURIComponent(adId)}/${event}`,
  clickThrough: (adId: string) => `/track/${encodeURIComponent(adId)}/clickthrough`,
  sdk: '/track/events',
} as const

/** One event of `POST /track/events` (the SDK route): what a pixel URL says, as JSON. */
export const TrackingEventRequest = Type.Object(
  {
    t: Type.String({ maxLength: 256, description: 'The signed impression token from the tag.' }),
    event: AdEventType,
    error_code: Type.Optional(VastErrorCode),
    ad_playhead: Type.Optional(
      Type.Number({ minimum: 0, maximum: MAX_PLAYBACK_SECONDS, description: 'Seconds into the ad.' }),
    ),
  },
  { $id: 'TrackingEventRequest', description: 'One tracking event. Fields other than these are ignored.' },
)
export type TrackingEventRequest = Type.Static<typeof TrackingEventRequest>

/**
 * The Kafka record key of a message on the clicks topic: a click's ad id (as before events existed), an
 * event's impression id, so that every event of one impression lands on one partition, in the order
 * ingest sent them, and is judged by one worker. Ingest keys by it when it sends and when it replays its
 * spool.
 */
export const trackingMessageKey = (message: TrackingMessage): string =>
  message.v === EVENT_MESSAGE_VERSION ? message.impression_id : message.ad_id

/**
 * `POST /track/events` body: one TrackingEventRequest, or an array of them (up to BATCH_MAX_CLICKS).
 * Each item is judged on its own, like POST /ads/clicks's: a bad item is a rejected result, not a 400.
 */
export const TrackingEventsRequest = Type.Union(
  [
    TrackingEventRequest,
    Type.Array(
      Type.Union([TrackingEventRequest, Type.Unknown()], {
        description:
          'A TrackingEventRequest; any other value is accepted here and rejected in its own result.',
      }),
      { minItems: 1 },
    ),
  ],
  {
    $id: 'TrackingEventsRequest',
    description:
      'One event, or a JSON array of up to BATCH_MAX_CLICKS events, each validated on its own. Sent as application/json or, from navigator.sendBeacon, text/plain: every body is read as JSON.',
    examples: [
      [{ t: 'v1.k1.JPEH3DrRpyJzpyA4sGPsjQ.1750000000000.26OTY4Uk73Ucvs-RxWFIBQ.1', event: 'start' }],
    ],
  },
)

/** One event of `POST /track/events` that was recorded: durable, as the pixel's GIF promises. */
export const TrackingEventAccepted = Type.Object(
  {
    status: Type.Literal('accepted'),
    event: AdEventType,
    impression_id: ImpressionId,
  },
  { $id: 'TrackingEventAccepted' },
)

/** One event that was not recorded, with why (BAD_TOKEN: the token was refused, and for which reason). */
export const TrackingEventRejected = Type.Object(
  {
    status: Type.Literal('rejected'),
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({
      description:
        'Stable machine-readable code: VALIDATION_FAILED, BAD_TOKEN, KAFKA_UNAVAILABLE, SPOOL_FULL.',
    }),
    message: Type.String(),
  },
  { $id: 'TrackingEventRejected' },
)

export const TrackingEventResult = Type.Union([TrackingEventAccepted, TrackingEventRejected])
export type TrackingEventResult = Type.Static<typeof TrackingEventResult>

/** `POST /track/events` reply: one result per event, in the order of the request (one for a single event). */
export const TrackingEventsReply = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0, description: 'Events recorded.' }),
    rejected: Type.Integer({ minimum: 0, description: 'Events not recorded (see their results).' }),
    results: Type.Array(TrackingEventResult),
  },
  { $id: 'TrackingEventsReply' },
)
export type TrackingEventsReply = Type.Static<typeof TrackingEventsReply>
