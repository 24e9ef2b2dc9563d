/** Where the integration tests' Kafka, Postgres and Redis are. */
export interface StackInfo {
  databaseUrl: string
  redisUrl: string
  kafkaBrokers: string[]
  kind: 'external' | 'containers' | 'native'
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo
  }
}
