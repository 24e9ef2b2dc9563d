import { ConfigError } from './config.js'

// TRACKING_CORS_ORIGINS, read once for both services: which pages may call the tracking routes and fetch
// VAST tags from script. The value is the `origin` option of @fastify/cors.

const VARIABLE = 'TRACKING_CORS_ORIGINS'
// An origin as a browser sends it: scheme, host, optional port; no path, not even a trailing slash.
const ORIGIN = /^https?:\/\/[^/\s?#,]+$/

/**
 * `*` (any page) as `true`, which @fastify/cors answers by echoing the request's Origin, or the exact
 * origins listed, comma-separated. Throws a ConfigError naming the variable on anything else: an entry
 * with a path or a trailing slash would never match a browser's Origin and fail silently.
 *
 * NOTE: `*` is echoed rather than sent as `*` because players fetch tags with credentials (Google IMA
 * sets withCredentials), and a browser refuses a credentialed answer whose Allow-Origin is `*`.
 */
export function trackingCorsOrigin(text: string): true | string[] {
  const value = text.trim()
  if (value === '*') return true
  const origins = value.split(',').map((entry) => entry.trim())
  const bad = origins.filter((origin) => !ORIGIN.test(origin))
  if (value === '' || bad.length > 0) {
    throw new ConfigError(
      value === ''
        ? [`${VARIABLE} is empty: * for any origin, or a comma-separated list of origins`]
        : bad.map(
            (origin) =>
              `${VARIABLE}: "${origin.slice(0, 100)}" is not an origin (http(s)://host[:port], no path) nor *`,
          ),
    )
  }
  return [...new Set(origins)]
}
