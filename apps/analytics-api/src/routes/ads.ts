import { Ad, AdList, AdListQuery, AdParams, ErrorBody } from '@adtrack/contracts'
import { HttpError } from '@adtrack/service-runtime'
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
        response: { 200: AdList, '4xx': ErrorBody },
      },
    },
    async (request) => ads.list(request.query.limit, request.query.offset),
  )

  app.get(
    '/ads/:id',
    { schema: { summary: 'Get one ad', params: AdParams, response: { 200: Ad, '4xx': ErrorBody } } },
    async (request) => {
      const ad = await ads.get(request.params.id)
      if (!ad) throw new HttpError(404, `ad "${request.params.id}" does not exist`, 'AD_NOT_FOUND')
      return ad
    },
  )
}
