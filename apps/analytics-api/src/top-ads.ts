import type { TopAds, TopAdsQuery } from '@adtrack/contracts'
import { perImpression } from './video-figures.js'

/** One ad's valid clicks and impressions over a window, as either store sums them. */
export interface WindowCounts {
  ad_id: string
  click_count: number
  impressions: number
}

export type TopAd = TopAds['ads'][number]
export type TopMetric = TopAdsQuery['metric']

/**
 * Ranks a window's ads by `metric`, highest first, then by ad id (a stable order for equal figures).
 * Ranked here rather than in each store so that Redis and PostgreSQL answer the same list: an ad needs a
 * click to rank by clicks, an impression to rank by impressions, and `minImpressions` to rank by ctr (a
 * 1-in-1 ad would otherwise top every ctr list).
 */
export function rankTopAds(
  ads: Iterable<WindowCounts>,
  metric: TopMetric,
  minImpressions: number,
  limit: number,
): TopAd[] {
  const ranked: TopAd[] = []
  for (const ad of ads) {
    const keep =
      metric === 'clicks'
        ? ad.click_count > 0
        : metric === 'impressions'
          ? ad.impressions > 0
          : ad.impressions >= minImpressions
    if (keep) ranked.push({ ...ad, ctr: perImpression(ad.click_count, ad.impressions) })
  }
  const figure = (ad: TopAd) =>
    metric === 'clicks' ? ad.click_count : metric === 'impressions' ? ad.impressions : (ad.ctr ?? 0)
  return ranked.sort((a, b) => figure(b) - figure(a) || a.ad_id.localeCompare(b.ad_id)).slice(0, limit)
}
