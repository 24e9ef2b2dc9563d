import { Type } from 'typebox'

/** Every 4xx/5xx reply of every service has this shape (Fastify's own error shape). */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    error: Type.String({ description: 'HTTP reason phrase, e.g. "Bad Request".' }),
    message: Type.String({ description: 'What was wrong, for a person to read. Hidden for 5xx.' }),
    code: Type.Optional(Type.String({ description: 'Stable machine-readable code, e.g. AD_NOT_FOUND.' })),
  },
  { $id: 'ErrorBody' },
)
export type ErrorBody = Type.Static<typeof ErrorBody>
