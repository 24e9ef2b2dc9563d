import { Type } from 'typebox'
import { AdId } from './ad.js'

/** Client-chosen idempotency key; retries with the same id are counted once. */
export const ClickId = Type.String({
  minLength: 8,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Idempotency key for the click (e.g. a UUID). Assigned by the server when absent.',
})

/** Upper bound on playback position, in seconds, as the system we replace enforced. */
export const MAX_PLAYBACK_SECONDS = 3600

/** `POST /ads/click` body. */
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
  },
  { $id: 'ClickRequest', additionalProperties: false },
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
    ip: Type.String({ maxLength: 64 }),
    user_agent: Type.String({ maxLength: 512 }),
  },
  { $id: 'ClickMessage', additionalProperties: false },
)
export type ClickMessage = Type.Static<typeof ClickMessage>
