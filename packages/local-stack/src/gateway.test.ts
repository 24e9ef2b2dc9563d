import { describe, expect, it } from 'vitest'
import { appendForwardedFor, upstreamFor } from './gateway.js'

const upstreams = { ingest: 'http://127.0.0.1:8081', analytics: 'http://127.0.0.1:8082' }

describe('upstreamFor', () => {
  it.each(['/ads/click', '/ads/click?debug=1', '/ads/clicks', '/ads/click/batch'])(
    'sends %s to ingest-api',
    (url) => {
      expect(upstreamFor(url, upstreams)).toBe(upstreams.ingest)
    },
  )

  it.each(['/ads', '/ads/analytics?ad_id=1', '/ads/1', '/', '/metrics'])(
    'sends %s to analytics-api',
    (url) => {
      expect(upstreamFor(url, upstreams)).toBe(upstreams.analytics)
    },
  )
})

describe('appendForwardedFor', () => {
  it('starts the chain with the client when there is none', () => {
    expect(appendForwardedFor(undefined, '203.0.113.7')).toBe('203.0.113.7')
    expect(appendForwardedFor('  ', '203.0.113.7')).toBe('203.0.113.7')
  })

  it('appends the client to the hops before it', () => {
    expect(appendForwardedFor('198.51.100.1', '10.0.0.2')).toBe('198.51.100.1, 10.0.0.2')
    expect(appendForwardedFor(['198.51.100.1', '198.51.100.2'], '10.0.0.2')).toBe(
      '198.51.100.1, 198.51.100.2, 10.0.0.2',
    )
  })
})
