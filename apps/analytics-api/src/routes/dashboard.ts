import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpError } from '@adtrack/service-runtime'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifySchema } from 'fastify'

/**
 * The advertisers' dashboard's static build (apps/dashboard, `vite build`): the dist folder of the
 * @adtrack/dashboard package that analytics-api depends on, from src/routes (tests) and dist/routes (the
 * build) alike. Through the dependency, pnpm links it here in the workspace and `pnpm deploy` copies it
 * into the image (deploy/build-service.sh), so both find it at the same place.
 */
export const DASHBOARD_DIR = fileURLToPath(
  new URL('../../node_modules/@adtrack/dashboard/dist/', import.meta.url),
)
/** @fastify/swagger's flag: the page is not part of the API description (nor fuzzed with it). */
const NOT_API = { hide: true } as FastifySchema
/** Vite's hashed output: a file's name changes with its content, so it never needs asking again. */
const ASSETS = '/assets/'

/**
 * Headers of every /dashboard/ reply. The page runs only its own files (no inline script or style, no CDN,
 * no web font): an ad title that slips into the HTML cannot run, and the page cannot be framed.
 * `img-src data:` for images Vite inlines; `connect-src 'self'` for the API it polls on the same origin.
 */
export const DASHBOARD_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/**
 * Serves the dashboard at /dashboard/ (register with prefix /dashboard): index.html revalidated on every
 * load (Cache-Control: no-cache, with its ETag) so a release shows at once, hashed assets cached for a
 * year. Without a build (a checkout where the dashboard was not built) every path answers 503 saying how
 * to build it, rather than failing to start: the API works without its UI.
 */
export const dashboardRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, { dir = DASHBOARD_DIR }) => {
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(DASHBOARD_HEADERS)
  })
  // /dashboard alone: the page's relative asset URLs resolve against /dashboard/, so send the browser there.
  app.get('/', { prefixTrailingSlash: 'no-slash', schema: NOT_API }, (_request, reply) =>
    reply.redirect('/dashboard/', 301),
  )
  app.setNotFoundHandler((request, _reply) => {
    throw new HttpError(404, `no dashboard file at ${request.url.split('?')[0]}`, 'ROUTE_NOT_FOUND')
  })
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'the dashboard is not built; /dashboard/ answers 503')
    // NOTE: sent rather than thrown: the error handler hides the message of every 5xx, and this one is
    // the point of the reply.
    app.get('/*', { schema: NOT_API }, (_request, reply) =>
      reply.code(503).send({
        statusCode: 503,
        error: 'Service Unavailable',
        message:
          'the dashboard is not built: run `pnpm --filter @adtrack/dashboard build` (`npm start` builds everything), then restart analytics-api',
        code: 'DASHBOARD_NOT_BUILT',
      }),
    )
    return
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Only real files: no directory listing, no dotfiles, no index other than the root's.
    index: ['index.html'],
    dotfiles: 'ignore',
    // The headers are set below for each kind of file, not by @fastify/send's single max-age.
    cacheControl: false,
    setHeaders: (reply, path) => {
      const assets = path.startsWith(join(dir, ASSETS))
      reply.header('cache-control', assets ? 'public, max-age=31536000, immutable' : 'no-cache')
    },
  })
}
