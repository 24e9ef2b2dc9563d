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

export const Ad = Type.Object(
  {
    id: AdId,
    title: Type.String({ maxLength: 200 }),
    image_url: Type.String({ format: 'uri' }),
    target_url: Type.String({ format: 'uri' }),
    status: AdStatus,
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
  },
  {
    $id: 'AdCreate',
    additionalProperties: false,
    description: 'A new ad. Without `id` the server assigns a UUID; a taken id (even archived) is refused.',
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
  },
  {
    $id: 'AdPatch',
    additionalProperties: false,
    minProperties: 1,
    description: 'The fields to change; the others keep their values. The id cannot change.',
    examples: [{ status: 'paused' }],
  },
)
export type AdPatch = Type.Static<typeof AdPatch>
