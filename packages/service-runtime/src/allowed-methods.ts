import type { FastifyInstance, HTTPMethods } from 'fastify'
import FindMyWay, { type HTTPMethod } from 'find-my-way'

/**
 * Which methods each path of an app answers, for a 405's `Allow` header. The routes are fed, as they are
 * added, into a find-my-way router (Fastify's own, with its default options, which the apps keep), so a
 * path matches here exactly as it would in Fastify: parameters, wildcards and all. Install it before
 * any route is added: the onRoute hook only sees the routes added after it.
 */
export function trackAllowedMethods(app: FastifyInstance): (path: string) => string[] {
  const router = FindMyWay()
  const methods = new Set<HTTPMethod>()
  const add = (method: HTTPMethod, url: string) => {
    if (router.hasRoute(method, url)) return
    router.on(method, url, () => {})
    methods.add(method)
  }
  app.addHook('onRoute', (route) => {
    for (const method of ([] as HTTPMethods[]).concat(route.method)) {
      add(method as HTTPMethod, route.url)
      // Fastify answers HEAD wherever it answers GET (exposeHeadRoutes); say so whether or not the
      // HEAD route it adds passes through this hook.
      if (method === 'GET') add('HEAD', route.url)
    }
  })
  return (path) => [...methods].filter((method) => router.find(method, path) !== null).sort()
}
