import { describe, expect, it } from 'vitest'
import {
  kafkaJvmArgs,
  kafkaLog4jProperties,
  kafkaServerProperties,
  newKafkaClusterId,
} from './kafka-config.js'

const propertiesOf = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )

describe('kafkaServerProperties with a TLS listener', () => {
  const props = propertiesOf(
    kafkaServerProperties({
      port: 19092,
      controllerPort: 19093,
      logDir: '/k/data',
      tls: { port: 19094, keystoreFile: '/k/tls/kafka-keystore.pem' },
    }),
  )

  it('adds a SASL_SSL listener, advertised by the name its certificate carries', () => {
    expect(props.listeners).toBe(
      'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_SSL://127.0.0.1:19094',
    )
    expect(props['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:19092,SASL_SSL://localhost:19094')
    expect(props['listener.security.protocol.map']).toContain('SASL_SSL:SASL_SSL')
    expect(props['listener.name.sasl_ssl.ssl.keystore.type']).toBe('PEM')
    expect(props['listener.name.sasl_ssl.ssl.keystore.location']).toBe('/k/tls/kafka-keystore.pem')
  })

  it('logs clients in with SCRAM only', () => {
    expect(props['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512,SCRAM-SHA-256')
    expect(props['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config']).toMatch(
      /ScramLoginModule required;$/,
    )
  })
})

describe('kafkaServerProperties', () => {
  const props = propertiesOf(kafkaServerProperties({ port: 19092, controllerPort: 19093, logDir: '/k/data' }))

  it('runs one combined broker and KRaft controller on the given ports', () => {
    expect(props).toMatchObject({
      'process.roles': 'broker,controller',
      'node.id': '1',
      'controller.quorum.voters': '1@127.0.0.1:19093',
      listeners: 'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:19092',
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'log.dirs': '/k/data',
    })
  })

  it('never asks a single broker for more than one replica, and creates no topic implicitly', () => {
    expect(props).toMatchObject({
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'min.insync.replicas': '1',
      'default.replication.factor': '1',
      'auto.create.topics.enable': 'false',
      'group.initial.rebalance.delay.ms': '0',
      'num.partitions': '6',
    })
  })

  it('lets a crashed broker re-register sooner than the 9 s default session', () => {
    expect(Number(props['broker.session.timeout.ms'])).toBeLessThan(9000)
    expect(Number(props['broker.heartbeat.interval.ms'])).toBeLessThan(
      Number(props['broker.session.timeout.ms']),
    )
  })
})

describe('kafkaLog4jProperties', () => {
  it('logs to the given file only, escaping backslashes for java.util.Properties', () => {
    const props = propertiesOf(kafkaLog4jProperties('C:\\kafka\\server.log'))
    expect(props['log4j.rootLogger']).toBe('INFO, file')
    expect(props['log4j.appender.file.File']).toBe('C:\\\\kafka\\\\server.log')
    expect(Object.values(props)).not.toContain('org.apache.log4j.ConsoleAppender')
  })
})

describe('newKafkaClusterId', () => {
  it('encodes 16 bytes as 22 URL-safe base64 characters', () => {
    expect(newKafkaClusterId()).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it('draws again rather than return an id that StorageTool would parse as an option', () => {
    const draws = [Buffer.alloc(16, 0xfb), Buffer.alloc(16, 0x01)]
    const id = newKafkaClusterId(() => draws.shift() ?? Buffer.alloc(16))
    expect(Buffer.alloc(16, 0xfb).toString('base64url').startsWith('-')).toBe(true)
    expect(id).toBe(Buffer.alloc(16, 0x01).toString('base64url'))
  })
})

describe('kafkaJvmArgs', () => {
  it('caps the heap at 512 MB and points log4j at the generated file', () => {
    const args = kafkaJvmArgs({ classpath: 'a.jar:b.jar', log4jFile: '/k/log4j.properties' })
    expect(args).toContain('-Xmx512m')
    expect(args).toContain('-Dlog4j.configuration=file:/k/log4j.properties')
    expect(args.slice(-2)).toEqual(['-cp', 'a.jar:b.jar'])
  })
})
