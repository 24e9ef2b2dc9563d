import { Ad, AdList, AdListQuery, AdParams, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdStore } from '../ad-store.js'

export const adRoutes: FastifyPluginAsyncTypebox<{ ads: AdStore }> = async (app, { ads }) => {
  app.get(
    '/ads',
    {
      schema: {
        summary: 'List ads',
        description: 'A bare JSON array, in creation order; page with limit and offset.',
        querystring: AdListQuery,
        response: {
          200: AdList,
          400: errorReply(
            '`limit` or `offset` is not a whole number within its bounds (`VALIDATION_FAILED`).',
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => ads.list(request.query.limit, request.query.offset),
  )

  app.get(
    '/ads/:id',
    {
      schema: {
        summary: 'Get one ad',
        params: AdParams,
        response: {
          200: Ad,
          400: errorReply('The id is not a valid ad id (`VALIDATION_FAILED`).'),
          404: errorReply('No such ad, or it is archived (`AD_NOT_FOUND`).'),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const ad = await ads.get(request.params.id)
      if (!ad) throw new HttpError(404, `ad "${request.params.id}" does not exist`, 'AD_NOT_FOUND')
      return ad
    },
  )
}
