import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureBinaries } from './ensure-binaries.js'
import { startKafka } from './kafka.js'
import { LOCAL_KAFKA_SCRAM } from './kafka-config.js'
import { type Log, stderrLog } from './log.js'
import { freePort } from './ports.js'
import { startPostgres } from './postgres.js'
import { startRedis } from './redis.js'
import { ensureTlsMaterial } from './tls-material.js'
import type { KafkaServer, ManagedProcess, PostgresServer, RedisServer } from './types.js'

export interface StackPorts {
  postgres: number
  redis: number
  /** Redis's TLS port. */
  redisTls: number
  kafka: number
  kafkaController: number
  /** Kafka's SASL_SSL listener. */
  kafkaTls: number
}

/** A free port for each server: for a stack of its own beside whatever else runs (tests, the bench). */
export async function freeStackPorts(): Promise<StackPorts> {
  return {
    postgres: await freePort(),
    redis: await freePort(),
    redisTls: await freePort(),
    kafka: await freePort(),
    kafkaController: await freePort(),
    kafkaTls: await freePort(),
  }
}

export interface StackOptions {
  /** Each server gets a subdirectory: postgres/, redis/, kafka/. */
  dataDir: string
  ports: StackPorts
  log?: Log
  /** Redis append-only persistence (npm start); off by default (tests). */
  persistRedis?: boolean
}

/**
 * How to reach the stack the way production does, over TLS with verification (and SCRAM for Kafka):
 * the settings the services take (KAFKA_TLS_CA_FILE, KAFKA_SASL_*, DATABASE_URL's sslmode/sslrootcert,
 * a rediss:// REDIS_URL with REDIS_TLS_CA_FILE).
 */
export interface StackTls {
  /** The stack's own CA (PEM), which signed both servers' certificate. */
  caFile: string
  kafkaBrokers: string[]
  kafkaSasl: { mechanism: 'scram-sha-512'; username: string; password: string }
  /** postgres://...@localhost:PORT/ad_tracking?sslmode=verify-full&sslrootcert=<caFile> */
  databaseUrl: string
  /** rediss://localhost:PORT (REDIS_TLS_CA_FILE: caFile) */
  redisUrl: string
}

/** <dataDir>/tls/<this>: the StackTls of the running stack, as JSON. */
export const STACK_TLS_FILE = 'connections.json'

export interface Stack {
  postgres: PostgresServer
  redis: RedisServer
  kafka: KafkaServer
  tls: StackTls
  /** Stops all three (in parallel); resolves once every one has exited. */
  stop(): Promise<void>
}

/** Installs what is missing, then starts Postgres, Redis and Kafka in parallel. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? stderrLog
  await ensureBinaries(log)
  const tls = await ensureTlsMaterial(join(opts.dataDir, 'tls'), log)
  const started = await Promise.allSettled([
    startPostgres({ dataDir: join(opts.dataDir, 'postgres'), port: opts.ports.postgres, tls, log }),
    startRedis({
      dataDir: join(opts.dataDir, 'redis'),
      port: opts.ports.redis,
      persist: opts.persistRedis,
      tls: { port: opts.ports.redisTls, material: tls },
      log,
    }),
    startKafka({
      dataDir: join(opts.dataDir, 'kafka'),
      port: opts.ports.kafka,
      controllerPort: opts.ports.kafkaController,
      tls: { port: opts.ports.kafkaTls, keystoreFile: tls.keystoreFile },
      log,
    }),
  ])
  const [postgres, redis, kafka] = started
  if (postgres.status === 'fulfilled' && redis.status === 'fulfilled' && kafka.status === 'fulfilled') {
    const servers = [postgres.value, redis.value, kafka.value]
    const stackTls: StackTls = {
      caFile: tls.caFile,
      kafkaBrokers: kafka.value.tlsBrokers ?? [],
      kafkaSasl: { ...LOCAL_KAFKA_SCRAM },
      databaseUrl: postgres.value.tlsUrl ?? '',
      redisUrl: redis.value.tlsUrl ?? '',
    }
    // For tools that use a running stack rather than start one (TEST_STACK_TLS, deps' users).
    await writeFile(join(opts.dataDir, 'tls', STACK_TLS_FILE), `${JSON.stringify(stackTls, null, 2)}\n`)
    return {
      postgres: postgres.value,
      redis: redis.value,
      kafka: kafka.value,
      tls: stackTls,
      stop: () => stopAll(servers),
    }
  }
  // A half-started stack is of no use to anyone: stop what did start, then report every failure.
  await stopAll(started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])))
  const reasons = started.flatMap((result) =>
    result.status === 'rejected' ? [(result.reason as Error).message] : [],
  )
  throw new Error(`the local stack did not start:\n${reasons.join('\n\n')}`)
}

async function stopAll(servers: ManagedProcess[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()))
}
