import { describe, expect, it } from 'vitest'
import { ConfigError } from './config.js'
import { trackingCorsOrigin } from './tracking-cors.js'

describe('trackingCorsOrigin', () => {
  it('reads * as any origin, echoed', () => {
    expect(trackingCorsOrigin('*')).toBe(true)
    expect(trackingCorsOrigin(' * ')).toBe(true)
  })

  it('reads a comma-separated list of exact origins, once each', () => {
    expect(
      trackingCorsOrigin('https://player.example.com, http://localhost:3000,https://player.example.com'),
    ).toEqual(['https://player.example.com', 'http://localhost:3000'])
  })

  it.each([
    ['', /is empty/],
    ['https://player.example.com/', /not an origin/],
    ['https://a.example.com,,https://b.example.com', /"" is not an origin/],
    ['player.example.com', /not an origin/],
    ['https://a.example.com,*', /"\*" is not an origin/],
    ['javascript://x', /not an origin/],
  ])('refuses %j, naming the variable', (value, message) => {
    expect(() => trackingCorsOrigin(value)).toThrow(ConfigError)
    expect(() => trackingCorsOrigin(value)).toThrow(/TRACKING_CORS_ORIGINS/)
    expect(() => trackingCorsOrigin(value)).toThrow(message)
  })
})
