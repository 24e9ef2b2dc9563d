import type { FastifyInstance, HTTPMethods } from 'fastify'
import FindMyWay, { type HTTPMethod } from 'find-my-way'

/** What a request's path and method say about a 405, from the routes an app has. */
export interface MethodCheck {
  /**
   * The methods of the path's resource, sorted; empty for a path no route matches. The resource is the most
   * specific route pattern that matches the path under any method: for `/ads/top`, the static `/ads/top`,
   * not the `/ads/:id` that other methods would match.
   */
  allowed(path: string): string[]
  /**
   * Whether a request Fastify routed to `routedUrl` (its route's pattern) is one the resource does not
   * answer: `DELETE /ads/top` reaches `DELETE /ads/:id` in the router, yet `/ads/top` answers GET only.
   */
  shadowed(path: string, routedUrl: string): boolean
}

/** Fewer wildcards, then fewer parameters: static beats parametric beats wildcard, as in find-my-way. */
const specificity = (url: string) => [(url.match(/\*/g) ?? []).length, (url.match(/:/g) ?? []).length]
const moreSpecific = (a: string, b: string) => {
  const [wa = 0, pa = 0] = specificity(a)
  const [wb = 0, pb = 0] = specificity(b)
  return wa !== wb ? wa < wb : pa < pb
}

/**
 * Tracks every route an app adds in a find-my-way router (Fastify's own, with its default options, which
 * the apps keep), so a path matches here exactly as it does in Fastify: parameters, wildcards and all.
 * Install it before any route is added: the onRoute hook only sees the routes added after it.
 */
export function trackAllowedMethods(app: FastifyInstance): MethodCheck {
  const router = FindMyWay()
  const methods = new Set<HTTPMethod>()
  const add = (method: HTTPMethod, url: string) => {
    if (router.hasRoute(method, url)) return
    router.on(method, url, () => {}, { url })
    methods.add(method)
  }
  app.addHook('onRoute', (route) => {
    for (const method of ([] as HTTPMethods[]).concat(route.method)) {
      // NOTE: @fastify/cors adds `OPTIONS *` to answer preflights from its hook; it is no resource. Counted,
      // it would make every unknown path a 405 that "answers OPTIONS" instead of a 404.
      if (method === 'OPTIONS' && route.url.endsWith('*')) continue
      add(method as HTTPMethod, route.url)
      // Fastify answers HEAD wherever it answers GET (exposeHeadRoutes); say so whether or not the
      // HEAD route it adds passes through this hook.
      if (method === 'GET') add('HEAD', route.url)
    }
  })
  /** Each method's matching pattern for this path, and the most specific of them (the resource). */
  const resolve = (path: string) => {
    const matches = new Map<HTTPMethod, string>()
    let resource: string | undefined
    for (const method of methods) {
      const url = (router.find(method, path)?.store as { url: string } | undefined)?.url
      if (url === undefined) continue
      matches.set(method, url)
      if (resource === undefined || moreSpecific(url, resource)) resource = url
    }
    return { matches, resource }
  }
  return {
    allowed(path) {
      const { matches, resource } = resolve(path)
      return [...matches].flatMap(([method, url]) => (url === resource ? [method] : [])).sort()
    },
    shadowed(path, routedUrl) {
      // A static route is the most specific there is: nothing to look up on the hot path of a click.
      if (!/[:*]/.test(routedUrl)) return false
      const { resource } = resolve(path)
      return resource !== undefined && resource !== routedUrl
    },
  }
}
