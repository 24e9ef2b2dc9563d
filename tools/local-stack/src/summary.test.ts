import { describe, expect, it } from 'vitest'
import { PORT_SETTINGS, type StackCliPorts } from './cli-settings.js'
import { upSummary } from './summary.js'

const ports = Object.fromEntries(PORT_SETTINGS.map((s) => [s.key, s.fallback])) as StackCliPorts
const input = {
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/ad_tracking',
  redisUrl: 'redis://127.0.0.1:6379',
  kafkaBrokers: ['127.0.0.1:9092'],
  tls: {
    caFile: '/d/tls/ca.pem',
    kafkaBrokers: ['localhost:9094'],
    kafkaSasl: { mechanism: 'scram-sha-512' as const, username: 'adtrack', password: 'pw' },
    databaseUrl: 'postgres://postgres:password@localhost:5432/ad_tracking?sslmode=verify-full',
    redisUrl: 'rediss://localhost:6380',
  },
  logs: { services: '/tmp/s', postgres: '/tmp/p', redis: '/tmp/r', kafka: '/tmp/k' },
}

describe('upSummary', () => {
  it("prints the dashboard's address on the gateway's port, first", () => {
    const lines = upSummary({ ports: { ...ports, gateway: 18080 }, ...input }).split('\n')
    expect(lines[2]).toMatch(/^ {2}dashboard +http:\/\/localhost:18080\/dashboard\/ /)
  })
})
