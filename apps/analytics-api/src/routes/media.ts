import { fileURLToPath } from 'node:url'
import { ErrorBody } from '@adtrack/contracts'
import { errorReply } from '@adtrack/service-runtime/api-docs'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** apps/analytics-api/media, from src/routes (tests) and dist/routes (the build) alike. */
export const MEDIA_DIR = fileURLToPath(new URL('../../media/', import.meta.url))
export const DEMO_VIDEO = 'demo.mp4'

const VIDEO = (description: string) => ({
  description,
  content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } },
})

/**
 * The demo ads' video (see docs/development.md#the-demo-video), so that their VAST tags play on the local
 * stack without anything outside it. Real ads point at their own CDN. One fixed route rather than a
 * directory: nothing else in media/ is served, and the route is in the API description.
 */
export const mediaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // serve: false: only reply.sendFile, no wildcard route. @fastify/send gives the Content-Type from the
  // extension, ETag and Last-Modified (304s), and byte ranges (206, 416): players seek with Range.
  await app.register(fastifyStatic, {
    root: MEDIA_DIR,
    serve: false,
    // The file changes only with a release; a day spares players a download per view.
    maxAge: '1d',
  })

  app.get(
    `/media/${DEMO_VIDEO}`,
    {
      schema: {
        summary: 'The demo video',
        description:
          'A 10-second 320x180 H.264/AAC MP4 (under 1 MB) that the demo ads play. Answers `Range` requests (206) for seeking.',
        tags: ['media'],
        response: {
          200: VIDEO('The whole file.'),
          206: VIDEO('The bytes asked for with `Range`.'),
          304: Type.Null({
            'x-response-description': 'Not modified since the `If-None-Match` or `If-Modified-Since` given.',
          }),
          416: errorReply('The `Range` asked for lies outside the file.'),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    (_request, reply) => reply.sendFile(DEMO_VIDEO),
  )
}
