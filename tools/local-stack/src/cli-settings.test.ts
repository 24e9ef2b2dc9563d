import { describe, expect, it } from 'vitest'
import { readPorts, readTlsSetting, resolveDataDir } from './cli-settings.js'

describe('readPorts', () => {
  it('uses the documented defaults when nothing is set', () => {
    expect(readPorts({})).toEqual({
      postgres: 5432,
      redis: 6379,
      redisTls: 6380,
      kafka: 9092,
      kafkaController: 9093,
      kafkaTls: 9094,
      gateway: 8080,
      ingest: 8081,
      analytics: 8082,
      ingestMetrics: 2112,
      analyticsMetrics: 2113,
      workerMetrics: 2114,
    })
  })

  it('takes each port from its variable, ignoring blanks', () => {
    const ports = readPorts({
      STACK_POSTGRES_PORT: '15432',
      STACK_WORKER_METRICS_PORT: ' 3114 ',
      STACK_REDIS_PORT: '',
    })
    expect(ports.postgres).toBe(15432)
    expect(ports.workerMetrics).toBe(3114)
    expect(ports.redis).toBe(6379)
  })

  it.each(['abc', '0', '65536', '80.5', '-1'])('rejects %j, naming the variable', (value) => {
    expect(() => readPorts({ STACK_KAFKA_PORT: value })).toThrow(/^STACK_KAFKA_PORT must be a port number/)
  })

  it('rejects two settings on one port, naming both variables', () => {
    expect(() => readPorts({ STACK_GATEWAY_PORT: '5432' })).toThrow(
      'STACK_POSTGRES_PORT and STACK_GATEWAY_PORT are both 5432',
    )
  })
})

describe('resolveDataDir', () => {
  it('defaults to .data in the repository', () => {
    expect(resolveDataDir({}, '/repo')).toBe('/repo/.data')
  })

  it('honours an absolute STACK_DATA_DIR as given', () => {
    expect(resolveDataDir({ STACK_DATA_DIR: '/var/tmp/stack' }, '/repo')).toBe('/var/tmp/stack')
  })
})

describe('readTlsSetting', () => {
  it('is off unless STACK_TLS says true, and refuses what it cannot read', () => {
    expect(readTlsSetting({})).toBe(false)
    expect(readTlsSetting({ STACK_TLS: 'false' })).toBe(false)
    expect(readTlsSetting({ STACK_TLS: 'true' })).toBe(true)
    expect(readTlsSetting({ STACK_TLS: '1' })).toBe(true)
    expect(() => readTlsSetting({ STACK_TLS: 'on-ish' })).toThrow('STACK_TLS must be true or false')
  })
})
