import { DEVELOPMENT_TRACKING_KEYS } from '@adtrack/service-runtime/impression-token'
import { describe, expect, it } from 'vitest'
import { checkServiceEnvironment } from './service-config.js'

// A rendering's environment is judged as the service would judge it at start-up, in the images'
// production mode: the tracking keys' own rules (beyond the schema) included.
const strongKeys = `k1:${'s'.repeat(40)}`

describe('checkServiceEnvironment and the tracking keys', () => {
  it.each(['ingest-api', 'analytics-api'] as const)('%s: a secret key passes', (service) => {
    expect(checkServiceEnvironment(service, { TRACKING_TOKEN_KEYS: strongKeys })).toEqual([])
  })

  it.each([
    ['no key', {}],
    ['the public development key', { TRACKING_TOKEN_KEYS: DEVELOPMENT_TRACKING_KEYS }],
    ['a short secret', { TRACKING_TOKEN_KEYS: 'k1:short' }],
  ])('ingest-api with %s is refused, naming the variable', (_what, env: Record<string, string>) => {
    const problems = checkServiceEnvironment('ingest-api', env)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/TRACKING_TOKEN_KEYS/)
  })

  it('NODE_ENV=development in the rendering allows the development key, as the service does', () => {
    expect(checkServiceEnvironment('analytics-api', { NODE_ENV: 'development' })).toEqual([])
  })

  it('the click-worker has no tracking keys to check', () => {
    expect(checkServiceEnvironment('click-worker', {})).toEqual([])
  })
})
