import { describe, expect, it } from 'vitest'
import { rankTopAds } from './top-ads.js'

const window = [
  { ad_id: 'a', click_count: 5, impressions: 100 },
  { ad_id: 'b', click_count: 5, impressions: 50 },
  { ad_id: 'c', click_count: 0, impressions: 400 },
  { ad_id: 'd', click_count: 3, impressions: 0 },
  { ad_id: 'e', click_count: 1, impressions: 2 },
]
const ids = (ads: { ad_id: string }[]) => ads.map((a) => a.ad_id)

describe('top ads', () => {
  it('ranks by clicks, ads with a click only, ties by ad id', () => {
    expect(ids(rankTopAds(window, 'clicks', 100, 10))).toEqual(['a', 'b', 'd', 'e'])
  })

  it('ranks by impressions, ads with an impression only', () => {
    expect(ids(rankTopAds(window, 'impressions', 100, 10))).toEqual(['c', 'a', 'b', 'e'])
  })

  it('ranks by ctr among ads with at least min_impressions', () => {
    expect(ids(rankTopAds(window, 'ctr', 50, 10))).toEqual(['b', 'a', 'c'])
    // Without the floor, a 1-in-2 ad tops the list.
    expect(ids(rankTopAds(window, 'ctr', 1, 10))).toEqual(['e', 'b', 'a', 'c'])
  })

  it('gives every entry its clicks, impressions and ctr, and honours the limit', () => {
    expect(rankTopAds(window, 'clicks', 100, 3)).toEqual([
      { ad_id: 'a', click_count: 5, impressions: 100, ctr: 0.05 },
      { ad_id: 'b', click_count: 5, impressions: 50, ctr: 0.1 },
      { ad_id: 'd', click_count: 3, impressions: 0, ctr: null },
    ])
  })
})
