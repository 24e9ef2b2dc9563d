import { Type } from 'typebox'
import { HTTP_URL_PATTERN, NON_BLANK_TEXT_PATTERN } from './text.js'

export const AdId = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
  description: 'Ad identifier: 1-64 characters of letters, digits, dot, underscore, colon or hyphen.',
  examples: ['1'],
})

export const AdStatus = Type.Union([Type.Literal('active'), Type.Literal('paused')], {
  description: 'Only active ads accept clicks.',
})
export type AdStatus = Type.Static<typeof AdStatus>

/**
 * An absolute http(s) URL with a host. The players load `image_url` and send viewers to `target_url`, so
 * nothing else (`javascript:`, `data:`, relative paths) may be stored.
 */
export const HttpUrl = Type.String({
  format: 'uri',
  maxLength: 2048,
  pattern: HTTP_URL_PATTERN,
  description:
    'An absolute http:// or https:// URL (lower-case scheme, with a host), at most 2048 characters, without spaces or control characters.',
  examples: ['https://example.com/landing'],
})

/** Frame width and height bounds, in pixels: 8K is 7680 wide; more is a mistake, not a video. */
export const MAX_MEDIA_DIMENSION = 8192
/** The longest video, in seconds. VAST durations are HH:MM:SS.mmm, so one millisecond is the shortest. */
export const MAX_MEDIA_DURATION_SECONDS = 3600

const MediaDimension = (what: string) =>
  Type.Integer({
    minimum: 1,
    maximum: MAX_MEDIA_DIMENSION,
    description: `Frame ${what} in pixels, 1-${MAX_MEDIA_DIMENSION}.`,
  })

/**
 * The ad's video, as a VAST tag's `<MediaFile>` and `<Duration>` give it. All five fields together or
 * none (the database holds the same rule), so a tag never has half a media file.
 */
export const AdMedia = Type.Object(
  {
    url: HttpUrl,
    type: Type.Union([Type.Literal('video/mp4'), Type.Literal('video/webm')], {
      description: 'The MIME type of the file: video/mp4 or video/webm.',
    }),
    width: MediaDimension('width'),
    height: MediaDimension('height'),
    duration_seconds: Type.Number({
      minimum: 0.001,
      maximum: MAX_MEDIA_DURATION_SECONDS,
      description: `Length in seconds, 0.001-${MAX_MEDIA_DURATION_SECONDS}; VAST gives it to the millisecond.`,
      examples: [15],
    }),
  },
  {
    additionalProperties: false,
    description: 'The video file a VAST tag plays: every field required, no others.',
    examples: [
      {
        url: 'https://cdn.example.com/winter-sale.mp4',
        type: 'video/mp4',
        width: 640,
        height: 360,
        duration_seconds: 15,
      },
    ],
  },
)
export type AdMedia = Type.Static<typeof AdMedia>

/** An ad's media, or null for an ad without a video (it will get no VAST tag). */
const NullableAdMedia = Type.Union([AdMedia, Type.Null()], {
  description: 'The video, or null when the ad has none (such an ad gets no VAST tag).',
})

export const Ad = Type.Object(
  {
    id: AdId,
    title: Type.String({ maxLength: 200 }),
    image_url: Type.String({ format: 'uri' }),
    target_url: Type.String({ format: 'uri' }),
    status: AdStatus,
    media: NullableAdMedia,
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Ad', additionalProperties: false },
)
export type Ad = Type.Static<typeof Ad>

export const AdList = Type.Array(Ad)
export type AdList = Type.Static<typeof AdList>

/**
 * Deepest page of GET /ads. An offset is a scan of that many rows, and a number past bigint was a
 * Postgres error (500); a million is far beyond any catalogue this serves.
 */
export const MAX_AD_LIST_OFFSET = 1_000_000

export const AdListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Ads per page, 1-1000.' }),
    offset: Type.Integer({
      minimum: 0,
      maximum: MAX_AD_LIST_OFFSET,
      default: 0,
      description: `Ads to skip, 0 to ${MAX_AD_LIST_OFFSET}.`,
    }),
  },
  { additionalProperties: false },
)
export type AdListQuery = Type.Static<typeof AdListQuery>

export const AdParams = Type.Object({ id: AdId })
export type AdParams = Type.Static<typeof AdParams>

// --- Ads management (admin API) ---

const AdTitle = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: NON_BLANK_TEXT_PATTERN,
  description:
    'What the advertiser calls the ad: 1-200 characters, not only spaces, without control characters (tab allowed) or invalid Unicode.',
  examples: ['Winter sale'],
})

/** `POST /ads` body. */
export const AdCreate = Type.Object(
  {
    id: Type.Optional(AdId),
    title: AdTitle,
    image_url: HttpUrl,
    target_url: HttpUrl,
    status: Type.Optional(
      Type.Union([Type.Literal('active'), Type.Literal('paused')], {
        default: 'active',
        description: 'Only active ads accept clicks. Defaults to active.',
      }),
    ),
    media: Type.Optional(NullableAdMedia),
  },
  {
    $id: 'AdCreate',
    additionalProperties: false,
    description:
      'A new ad. Without `id` the server assigns a UUID; a taken id (even archived) is refused. Without `media` (or with null) the ad has no video.',
    examples: [
      {
        title: 'Winter sale',
        image_url: 'https://example.com/winter-sale.jpg',
        target_url: 'https://example.com/winter-sale',
      },
    ],
  },
)
export type AdCreate = Type.Static<typeof AdCreate>

/** `PATCH /ads/:id` body: the fields to change, at least one. */
export const AdPatch = Type.Object(
  {
    title: Type.Optional(AdTitle),
    image_url: Type.Optional(HttpUrl),
    target_url: Type.Optional(HttpUrl),
    status: Type.Optional(AdStatus),
    // The whole object or null, never some of its fields: a half-changed media file (a new URL with the
    // old type and size) is a tag that plays wrong, so a client restates all five.
    media: Type.Optional(NullableAdMedia),
  },
  {
    $id: 'AdPatch',
    additionalProperties: false,
    minProperties: 1,
    description:
      'The fields to change; the others keep their values. The id cannot change; `media` is replaced whole (all five fields) or removed with null.',
    examples: [{ status: 'paused' }],
  },
)
export type AdPatch = Type.Static<typeof AdPatch>
