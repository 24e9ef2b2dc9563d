import { freePort } from '@adtrack/local-stack'
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers'
import type { StackInfo } from './stack-info.js'

/** The same three services as Docker containers, for machines that have a Docker engine. */
export async function startContainers(): Promise<{ info: StackInfo; stop: () => Promise<void> }> {
  // Kafka must advertise an address the host can reach, so its host port is chosen up front.
  const kafkaPort = await freePort()
  const [postgres, redis, kafka] = await Promise.all([
    new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_PASSWORD: 'password', POSTGRES_DB: 'ad_tracking' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
    new GenericContainer('redis:7-alpine')
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start(),
    new GenericContainer('apache/kafka:3.9.1')
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start(),
  ])
  const started: StartedTestContainer[] = [postgres, redis, kafka]
  return {
    info: {
      databaseUrl: `postgres://postgres:password@${postgres.getHost()}:${postgres.getMappedPort(5432)}/ad_tracking`,
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      kafkaBrokers: [`127.0.0.1:${kafkaPort}`],
      kind: 'containers',
    },
    stop: async () => {
      await Promise.all(started.map((c) => c.stop()))
    },
  }
}
