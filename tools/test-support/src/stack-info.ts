import type { StackTls } from '@adtrack/local-stack'

/** Where the integration tests' Kafka, Postgres and Redis are. */
export interface StackInfo {
  databaseUrl: string
  redisUrl: string
  kafkaBrokers: string[]
  /**
   * The same servers over TLS (Kafka SASL_SSL with SCRAM, PostgreSQL verify-full, Redis): the native stack's,
   * or an external one's from TEST_STACK_TLS (its <data>/tls/connections.json).
   */
  tls?: StackTls
  kind: 'external' | 'containers' | 'native'
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo
  }
}
