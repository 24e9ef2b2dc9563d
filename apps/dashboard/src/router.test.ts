import { describe, expect, it } from 'vitest'
import { hrefOf, parseRoute } from './router.js'

describe('hash routes', () => {
  it.each([
    ['', { view: 'overview' }],
    ['#/', { view: 'overview' }],
    ['#/overview', { view: 'overview' }],
    ['#/ads', { view: 'ads' }],
    ['#/ads/3', { view: 'ad', id: '3' }],
    ['#/ads/summer.sale%3Av2', { view: 'ad', id: 'summer.sale:v2' }],
    ['#/ads/%E0%A4%A', { view: 'unknown' }],
    ['#/ads/1/2', { view: 'unknown' }],
    ['#main', { view: 'unknown' }],
  ])('%s → %o', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route)
  })

  it('reads back every ad link it writes, whatever the id holds', () => {
    for (const id of ['1', 'a.b:c-d_e', '<img src=x onerror=alert(1)>', 'a/b', '#?&']) {
      expect(parseRoute(hrefOf.ad(id))).toEqual({ view: 'ad', id })
    }
  })
})
