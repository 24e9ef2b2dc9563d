import { Type } from 'typebox'

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

export const AdListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)
export type AdListQuery = Type.Static<typeof AdListQuery>

export const AdParams = Type.Object({ id: AdId })
export type AdParams = Type.Static<typeof AdParams>

// --- Ads management (admin API) ---

const TITLE_PATTERN = '\\S'
const HTTP_URL_PATTERN = '^https?://[^\\s/?#]+([/?#]\\S*)?$'

/**
 * What a value failing one of these patterns is missing, in words: validators report the pattern, which
 * tells a person little. (A map rather than a keyword in the schemas, which stay plain JSON Schema.)
 */
export const PATTERN_MEANINGS: Readonly<Record<string, string>> = {
  [TITLE_PATTERN]: 'must contain a character other than a space',
  [HTTP_URL_PATTERN]: 'must be an absolute http:// or https:// URL',
}

const AdTitle = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: TITLE_PATTERN,
  description: 'What the advertiser calls the ad: 1-200 characters, not only spaces.',
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
    'An absolute http:// or https:// URL (lower-case scheme, with a host), at most 2048 characters.',
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
