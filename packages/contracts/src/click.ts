import { Type } from 'typebox'
import { AdId } from './ad.js'
import { FreeText } from './text.js'

/** Client-chosen idempotency key; retries with the same id are counted once. */
export const ClickId = Type.String({
  minLength: 8,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Idempotency key for the click (e.g. a UUID). Assigned by the server when absent.',
})

/** A player's own stable id for the viewer; without it a viewer is its IP and user agent. */
export const ViewerId = FreeText({
  minLength: 1,
  maxLength: 128,
  description:
    'Stable, opaque viewer id from the player (e.g. a hashed device id); optional. 1-128 characters, without control characters (tab allowed) or invalid Unicode.',
})

/** Why a click does not count: it is stored for audit but left out of click_count. */
export const InvalidReason = Type.Union(
  [Type.Literal('bot'), Type.Literal('repeat'), Type.Literal('over_budget'), Type.Literal('inactive_ad')],
  {
    description:
      'bot: a known bot or crawler user agent; repeat: the same viewer clicked the same ad within the repeat window; over_budget: the viewer exceeded its hourly click budget; inactive_ad: the ad was paused or unknown when the click was processed.',
  },
)
export type InvalidReason = Type.Static<typeof InvalidReason>
export const INVALID_REASONS: InvalidReason[] = ['bot', 'repeat', 'over_budget', 'inactive_ad']
/** Invalid clicks by reason, every reason present at zero: the shape replies carry. */
export const noInvalidClicks = (): Record<InvalidReason, number> =>
  Object.fromEntries(INVALID_REASONS.map((reason) => [reason, 0])) as Record<InvalidReason, number>

/** Upper bound on playback position, in seconds, as the system we replace enforced. */
export const MAX_PLAYBACK_SECONDS = 3600

/**
 * `POST /ads/click` body. Fields it does not name are ignored, not refused: players add their own, and a
 * click is worth more than its extras (the Kafka message is built from these fields alone).
 */
export const ClickRequest = Type.Object(
  {
    ad_id: AdId,
    playback_time: Type.Integer({
      minimum: 0,
      maximum: MAX_PLAYBACK_SECONDS,
      description: 'Seconds into the video when the ad was clicked.',
      examples: [30],
    }),
    click_id: Type.Optional(ClickId),
    viewer_id: Type.Optional(ViewerId),
  },
  { $id: 'ClickRequest', description: 'A click. Fields other than these are ignored, not refused.' },
)
export type ClickRequest = Type.Static<typeof ClickRequest>

/** `POST /ads/click` reply: sent only once Kafka has acknowledged the click. */
export const ClickAccepted = Type.Object(
  {
    status: Type.Literal('Click recorded'),
    click_id: ClickId,
  },
  { $id: 'ClickAccepted' },
)
export type ClickAccepted = Type.Static<typeof ClickAccepted>

export const CLICK_MESSAGE_VERSION = 1

/**
 * The Kafka click message (value of a record on the clicks topic, keyed by `ad_id`), JSON-encoded.
 * NOTE: `v` lets consumers tell schema generations apart; a breaking change bumps it and consumers
 * keep accepting the previous version until no producer sends it.
 */
export const ClickMessage = Type.Object(
  {
    v: Type.Literal(CLICK_MESSAGE_VERSION),
    click_id: ClickId,
    ad_id: AdId,
    playback_time: Type.Integer({ minimum: 0, maximum: MAX_PLAYBACK_SECONDS }),
    received_at: Type.String({ format: 'date-time', description: 'Server receive time, UTC.' }),
    // Free text too, though ingest cleans both: a record that slipped through must be dead-lettered,
    // not stall a partition on Postgres's refusal.
    ip: FreeText({ maxLength: 64 }),
    user_agent: FreeText({ maxLength: 512 }),
    viewer_id: Type.Optional(ViewerId),
  },
  { $id: 'ClickMessage', additionalProperties: false },
)
export type ClickMessage = Type.Static<typeof ClickMessage>

/**
 * `POST /ads/clicks` body: a JSON array of clicks (or NDJSON, one click per line, with
 * `Content-Type: application/x-ndjson`). Each item is judged on its own against ClickRequest; a bad
 * item does not spoil the others, so the array's items are anything here: a bad item is a per-item
 * rejection in a 200, not a 400 for the request, and the description must not promise otherwise.
 */
export const ClickBatchRequest = Type.Array(
  Type.Union([ClickRequest, Type.Unknown()], {
    description: 'A ClickRequest; any other value is accepted here and rejected in its own result.',
  }),
  {
    $id: 'ClickBatchRequest',
    minItems: 1,
    description:
      'Up to BATCH_MAX_CLICKS items. Each item is validated on its own against ClickRequest: an item that is not one is rejected in its own result, with the error POST /ads/click would answer, and the others are still recorded. The Idempotency-Key header does not apply: give each item its own click_id.',
    examples: [[{ ad_id: '1', playback_time: 30, click_id: 'c-000000001' }]],
  },
)
export type ClickBatchRequest = Type.Static<typeof ClickBatchRequest>

/** One item of a batch that was recorded: durable, as a 202 for a single click promises. */
export const ClickBatchAccepted = Type.Object(
  {
    status: Type.Literal('accepted'),
    click_id: ClickId,
  },
  { $id: 'ClickBatchAccepted' },
)

/** One item of a batch that was not recorded, with the error a single click would have got. */
export const ClickBatchRejected = Type.Object(
  {
    status: Type.Literal('rejected'),
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_FAILED, AD_NOT_FOUND.' }),
    message: Type.String(),
  },
  { $id: 'ClickBatchRejected' },
)

export const ClickBatchItemResult = Type.Union([ClickBatchAccepted, ClickBatchRejected])
export type ClickBatchItemResult = Type.Static<typeof ClickBatchItemResult>

/** `POST /ads/clicks` reply: one result per item, in the order of the request. */
export const ClickBatchReply = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0, description: 'Items recorded.' }),
    rejected: Type.Integer({ minimum: 0, description: 'Items not recorded (see their results).' }),
    results: Type.Array(ClickBatchItemResult),
  },
  { $id: 'ClickBatchReply' },
)
export type ClickBatchReply = Type.Static<typeof ClickBatchReply>
