import { isAbsolute, join, resolve } from 'node:path'

/** Every port `npm start` uses, each with the environment variable that overrides its default. */
export const PORT_SETTINGS = [
  { key: 'postgres', variable: 'STACK_POSTGRES_PORT', fallback: 5432, purpose: 'Postgres' },
  { key: 'redis', variable: 'STACK_REDIS_PORT', fallback: 6379, purpose: 'Redis' },
  { key: 'redisTls', variable: 'STACK_REDIS_TLS_PORT', fallback: 6380, purpose: 'Redis TLS' },
  { key: 'kafka', variable: 'STACK_KAFKA_PORT', fallback: 9092, purpose: 'Kafka' },
  {
    key: 'kafkaController',
    variable: 'STACK_KAFKA_CONTROLLER_PORT',
    fallback: 9093,
    purpose: 'Kafka controller',
  },
  { key: 'kafkaTls', variable: 'STACK_KAFKA_TLS_PORT', fallback: 9094, purpose: 'Kafka TLS (SASL_SSL)' },
  { key: 'gateway', variable: 'STACK_GATEWAY_PORT', fallback: 8080, purpose: 'gateway' },
  { key: 'ingest', variable: 'STACK_INGEST_PORT', fallback: 8081, purpose: 'ingest-api' },
  { key: 'analytics', variable: 'STACK_ANALYTICS_PORT', fallback: 8082, purpose: 'analytics-api' },
  {
    key: 'ingestMetrics',
    variable: 'STACK_INGEST_METRICS_PORT',
    fallback: 2112,
    purpose: 'ingest-api metrics',
  },
  {
    key: 'analyticsMetrics',
    variable: 'STACK_ANALYTICS_METRICS_PORT',
    fallback: 2113,
    purpose: 'analytics-api metrics',
  },
  {
    key: 'workerMetrics',
    variable: 'STACK_WORKER_METRICS_PORT',
    fallback: 2114,
    purpose: 'click-worker metrics',
  },
] as const

export type PortKey = (typeof PORT_SETTINGS)[number]['key']
export type StackCliPorts = Record<PortKey, number>
export type PortSetting = (typeof PORT_SETTINGS)[number]

/** The ports the dependencies alone need (`deps` mode). */
export const DEPENDENCY_PORT_KEYS: readonly PortKey[] = [
  'postgres',
  'redis',
  'redisTls',
  'kafka',
  'kafkaController',
  'kafkaTls',
]

/** Reads every port from its variable (or default); throws naming the variable when one is unusable. */
export function readPorts(env: NodeJS.ProcessEnv): StackCliPorts {
  const ports = {} as StackCliPorts
  const owner = new Map<number, string>()
  for (const setting of PORT_SETTINGS) {
    const raw = env[setting.variable]?.trim()
    const port = raw ? Number(raw) : setting.fallback
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${setting.variable} must be a port number from 1 to 65535, not "${raw}"`)
    }
    const clash = owner.get(port)
    if (clash) throw new Error(`${clash} and ${setting.variable} are both ${port}; each needs its own port`)
    owner.set(port, setting.variable)
    ports[setting.key] = port
  }
  return ports
}

/**
 * STACK_TLS: whether `up` connects the services to Kafka, PostgreSQL and Redis over TLS (Kafka's SASL_SSL
 * listener with SCRAM, PostgreSQL with sslmode=verify-full, Redis's TLS port), as production does. The TLS listeners run
 * either way; this only chooses what the services use.
 */
export function readTlsSetting(env: NodeJS.ProcessEnv): boolean {
  const raw = env.STACK_TLS?.trim().toLowerCase() ?? ''
  if (['', '0', 'false', 'no'].includes(raw)) return false
  if (['1', 'true', 'yes'].includes(raw)) return true
  throw new Error(`STACK_TLS must be true or false, not "${env.STACK_TLS}"`)
}

/** All stack data lives under one directory: <repo>/.data unless STACK_DATA_DIR says otherwise. */
export function resolveDataDir(env: NodeJS.ProcessEnv, repoRoot: string): string {
  const override = env.STACK_DATA_DIR?.trim()
  if (!override) return join(repoRoot, '.data')
  return isAbsolute(override) ? override : resolve(override)
}
