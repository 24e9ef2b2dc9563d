import { useEffect, useState } from 'preact/hooks'

// Hash routes (#/overview, #/ads, #/ads/<id>): the server serves one index.html at /dashboard/ and needs
// no route of its own for each view, and a reload or a shared link opens the same view.

export type Route = { view: 'overview' } | { view: 'ads' } | { view: 'ad'; id: string } | { view: 'unknown' }

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/overview'
  if (path === '/overview' || path === '/') return { view: 'overview' }
  if (path === '/ads') return { view: 'ads' }
  const ad = /^\/ads\/([^/]+)$/.exec(path)
  if (ad?.[1]) {
    try {
      return { view: 'ad', id: decodeURIComponent(ad[1]) }
    } catch {
      return { view: 'unknown' }
    }
  }
  return { view: 'unknown' }
}

export const hrefOf = {
  overview: '#/overview',
  ads: '#/ads',
  ad: (id: string) => `#/ads/${encodeURIComponent(id)}`,
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash))
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return route
}
