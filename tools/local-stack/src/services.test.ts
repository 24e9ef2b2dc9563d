import { describe, expect, it } from 'vitest'
import { readPorts } from './cli-settings.js'
import { readinessUrl, SERVICES, serviceEnv } from './services.js'

const ports = readPorts({})
const deps = {
  databaseUrl: 'postgres://postgres:password@127.0.0.1:5432/ad_tracking',
  redisUrl: 'redis://127.0.0.1:6379',
  kafkaBrokers: ['127.0.0.1:9092', '127.0.0.1:9094'],
}
const service = (name: string) => {
  const found = SERVICES.find((s) => s.name === name)
  if (!found) throw new Error(name)
  return found
}

describe('serviceEnv', () => {
  it('gives an API its ports and the stack addresses on top of the inherited environment', () => {
    const env = serviceEnv(service('analytics-api'), ports, deps, {
      PATH: '/bin',
      DATABASE_URL: 'postgres://elsewhere',
    })
    expect(env).toMatchObject({
      PATH: '/bin',
      HTTP_PORT: '8082',
      METRICS_PORT: '2113',
      DATABASE_URL: deps.databaseUrl,
      REDIS_URL: deps.redisUrl,
      KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9094',
      KAFKA_TOPIC: 'ad-clicks',
      LOG_LEVEL: 'info',
    })
  })

  it('adds the TLS settings (Kafka SASL too) when the addresses are the TLS ones (STACK_TLS)', () => {
    const tls = {
      ...deps,
      kafkaBrokers: ['localhost:9094'],
      redisUrl: 'rediss://localhost:6380',
      tls: {
        caFile: '/d/ca.pem',
        kafkaSasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      },
    }
    expect(serviceEnv(service('click-worker'), ports, tls, {})).toMatchObject({
      KAFKA_BROKERS: 'localhost:9094',
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: '/d/ca.pem',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      REDIS_URL: 'rediss://localhost:6380',
      REDIS_TLS_CA_FILE: '/d/ca.pem',
    })
    expect(serviceEnv(service('click-worker'), ports, deps, {}).KAFKA_TLS).toBeUndefined()
  })

  it('gives the worker a metrics port and no HTTP port', () => {
    const env = serviceEnv(service('click-worker'), ports, deps, {})
    expect(env.METRICS_PORT).toBe('2114')
    expect(env.HTTP_PORT).toBeUndefined()
  })

  it('keeps a topic and log level the caller chose', () => {
    const env = serviceEnv(service('ingest-api'), ports, deps, {
      KAFKA_TOPIC: 'clicks-dev',
      LOG_LEVEL: 'debug',
    })
    expect(env.KAFKA_TOPIC).toBe('clicks-dev')
    expect(env.LOG_LEVEL).toBe('debug')
  })

  it('makes ingest-api trust the loopback gateway for X-Forwarded-For unless told otherwise', () => {
    expect(serviceEnv(service('ingest-api'), ports, deps, {}).TRUSTED_PROXIES).toBe('127.0.0.1,::1')
    expect(
      serviceEnv(service('ingest-api'), ports, deps, { TRUSTED_PROXIES: '10.0.0.0/8' }).TRUSTED_PROXIES,
    ).toBe('10.0.0.0/8')
    expect(serviceEnv(service('analytics-api'), ports, deps, {}).TRUSTED_PROXIES).toBeUndefined()
  })

  it("puts ingest-api's spool in the stack's data directory (STACK_DATA_DIR) unless SPOOL_DIR is set", () => {
    expect(serviceEnv(service('ingest-api'), ports, deps, {}, '/srv/stack').SPOOL_DIR).toBe(
      '/srv/stack/ingest-spool',
    )
    expect(
      serviceEnv(service('ingest-api'), ports, deps, { SPOOL_DIR: '/var/spool/x' }, '/srv/stack').SPOOL_DIR,
    ).toBe('/var/spool/x')
    expect(serviceEnv(service('click-worker'), ports, deps, {}, '/srv/stack').SPOOL_DIR).toBeUndefined()
  })
})

describe('serviceEnv PUBLIC_BASE_URL', () => {
  it('points analytics-api at the gateway unless told otherwise', () => {
    expect(serviceEnv(service('analytics-api'), ports, deps, {}).PUBLIC_BASE_URL).toBe(
      'http://localhost:8080',
    )
    const moved = readPorts({ STACK_GATEWAY_PORT: '9080' })
    expect(serviceEnv(service('analytics-api'), moved, deps, {}).PUBLIC_BASE_URL).toBe(
      'http://localhost:9080',
    )
    expect(
      serviceEnv(service('analytics-api'), ports, deps, { PUBLIC_BASE_URL: 'https://ads.test' })
        .PUBLIC_BASE_URL,
    ).toBe('https://ads.test')
    expect(serviceEnv(service('ingest-api'), ports, deps, {}).PUBLIC_BASE_URL).toBeUndefined()
  })
})

describe('readinessUrl', () => {
  it('probes the APIs on their HTTP port and the worker on its metrics port', () => {
    expect(readinessUrl(service('ingest-api'), ports)).toBe('http://127.0.0.1:8081/readyz')
    expect(readinessUrl(service('click-worker'), ports)).toBe('http://127.0.0.1:2114/readyz')
  })
})
