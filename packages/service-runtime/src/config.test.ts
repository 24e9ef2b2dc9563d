import { AnalyticsConfig, IngestConfig } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.js'

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig(IngestConfig, {})
    expect(config.HTTP_PORT).toBe(8080)
    expect(config.METRICS_PORT).toBe(2112)
    expect(config.KAFKA_TOPIC).toBe('ad-clicks')
    expect(config.KAFKA_BROKERS).toBe('localhost:9092')
    expect(config.READ_TIMEOUT).toBe('10s')
  })

  it('coerces numbers from strings and keeps only known variables', () => {
    const config = loadConfig(AnalyticsConfig, { HTTP_PORT: '9000', PATH: '/usr/bin' })
    expect(config.HTTP_PORT).toBe(9000)
    expect(config).not.toHaveProperty('PATH')
  })

  it('names every wrong variable', () => {
    let caught: unknown
    try {
      loadConfig(IngestConfig, { HTTP_PORT: 'eighty', READ_TIMEOUT: '10', DATABASE_URL: 'mysql://x' })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ConfigError)
    const message = (caught as ConfigError).message
    expect(message).toMatch(/HTTP_PORT/)
    expect(message).toMatch(/READ_TIMEOUT/)
    expect(message).toMatch(/DATABASE_URL/)
    expect((caught as ConfigError).problems).toHaveLength(3)
  })

  it('refuses an unknown log level', () => {
    expect(() => loadConfig(IngestConfig, { LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/)
  })
})
