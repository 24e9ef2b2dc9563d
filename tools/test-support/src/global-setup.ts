import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StackTls } from '@adtrack/local-stack'
import type { TestProject } from 'vitest/node'
import type { StackInfo } from './stack-info.js'

/**
 * Brings up Kafka, Postgres and Redis once for the integration tests, by the first way that works:
 *  1. services named by TEST_DATABASE_URL, TEST_REDIS_URL and TEST_KAFKA_BROKERS (all three set), with
 *     TEST_STACK_TLS naming a local stack's <data>/tls/connections.json for its TLS listeners;
 *  2. testcontainers, when a Docker engine is reachable;
 *  3. the native stack (@adtrack/local-stack) on free ports in a temporary directory.
 * Tests isolate themselves inside it: each file gets its own database, topic, group and key prefix.
 */
export default async function setup(project: TestProject) {
  const log = (msg: string) => process.stderr.write(`[test-stack] ${msg}\n`)
  const { TEST_DATABASE_URL, TEST_REDIS_URL, TEST_KAFKA_BROKERS } = process.env
  if (TEST_DATABASE_URL && TEST_REDIS_URL && TEST_KAFKA_BROKERS) {
    log('using services from TEST_DATABASE_URL, TEST_REDIS_URL, TEST_KAFKA_BROKERS')
    project.provide('stack', {
      databaseUrl: TEST_DATABASE_URL,
      redisUrl: TEST_REDIS_URL,
      kafkaBrokers: TEST_KAFKA_BROKERS.split(','),
      ...(process.env.TEST_STACK_TLS
        ? { tls: JSON.parse(await readFile(process.env.TEST_STACK_TLS, 'utf8')) as StackTls }
        : {}),
      kind: 'external',
    } satisfies StackInfo)
    return
  }
  if (process.env.DOCKER_HOST || existsSync('/var/run/docker.sock')) {
    const { startContainers } = await import('./containers.js')
    log('Docker engine found: starting containers with testcontainers')
    const containers = await startContainers()
    project.provide('stack', containers.info)
    return containers.stop
  }

  const { ensureBinaries, freeStackPorts, startStack } = await import('@adtrack/local-stack')
  const dataDir = await mkdtemp(join(tmpdir(), 'adtrack-test-'))
  const started = Date.now()
  log(`no Docker engine: starting native Postgres, Redis and Kafka in ${dataDir}`)
  await ensureBinaries(log)
  const stack = await startStack({
    dataDir,
    ports: await freeStackPorts(),
    log,
  })
  log(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  project.provide('stack', {
    databaseUrl: stack.postgres.url,
    redisUrl: stack.redis.url,
    kafkaBrokers: stack.kafka.brokers,
    tls: stack.tls,
    kind: 'native',
  } satisfies StackInfo)
  return async () => {
    await stack.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
