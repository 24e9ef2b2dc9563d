import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Runs a built service with only PATH and `env`, as a pod would start, until it exits (or 20 s). */
const startWith = (service: string, env: Record<string, string>) =>
  spawnSync(process.execPath, [join(repoRoot, 'apps', service, 'dist', 'server.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  })

describe('a service started with a wrong variable', () => {
  it.each([
    ['ingest-api', { HTTP_PORT: 'eighty' }, ['HTTP_PORT']],
    ['click-worker', { KAFKA_SESSION_TIMEOUT: '30' }, ['KAFKA_SESSION_TIMEOUT']],
    [
      'analytics-api',
      { DATABASE_URL: 'mysql://nope', READ_TIMEOUT: 'soon' },
      ['DATABASE_URL', 'READ_TIMEOUT'],
    ],
  ])('%s stops at once with exit code 1, naming each wrong variable', (service, env, names) => {
    const result = startWith(service, env)
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(new RegExp(`^${service}: invalid configuration`))
    for (const name of names) expect(result.stderr).toContain(`- ${name} `)
  })
})

describe('a service started with TLS settings that cannot work', () => {
  it.each([
    [
      'ingest-api',
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
      /KAFKA_SASL_MECHANISM=plain sends the password in clear/,
    ],
    ['click-worker', { KAFKA_SASL_MECHANISM: 'scram-sha-512' }, /KAFKA_SASL_USERNAME is required/],
    ['click-worker', { KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' }, /KAFKA_TLS_CA_FILE cannot be read/],
    [
      'analytics-api',
      { REDIS_URL: 'redis://cache:6379', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' },
      /REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss:\/\//,
    ],
    [
      'analytics-api',
      { DATABASE_URL: 'postgres://app@db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem' },
      /DATABASE_URL: sslrootcert cannot be read/,
    ],
  ])('%s stops at once with exit code 1, saying what is wrong (%j)', (service, env, message) => {
    const result = startWith(service, env)
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(new RegExp(`^${service}: `))
    expect(result.stderr).toMatch(message)
  })
})
