import type { Ad } from '@adtrack/contracts'
import { useEffect, useState } from 'preact/hooks'
import { api } from './api.js'

/**
 * Ad titles by id for lists that carry only ids (the overview's top ads), read once when the view opens:
 * titles change rarely, so they are not part of the 2-second refresh. An id without a title shows as
 * itself (an ad created since, or archived).
 */
export function useAdTitles(): Map<string, string> {
  const [titles, setTitles] = useState(new Map<string, string>())
  useEffect(() => {
    const controller = new AbortController()
    api<Ad[]>('/ads?limit=1000', { signal: controller.signal })
      .then((ads) => setTitles(new Map(ads.map((a) => [a.id, a.title]))))
      // The overview's own request reports an unreachable API; the titles are only a nicety.
      .catch(() => {})
    return () => controller.abort()
  }, [])
  return titles
}
