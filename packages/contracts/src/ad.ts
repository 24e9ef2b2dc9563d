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
