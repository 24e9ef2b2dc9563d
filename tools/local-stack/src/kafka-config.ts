import { randomBytes } from 'node:crypto'

/** A listener for clients that speak TLS and authenticate with SASL/SCRAM, as production Kafka wants. */
export interface KafkaTlsListener {
  port: number
  /** Key and certificate chain in one PEM file (tls-material.ts). */
  keystoreFile: string
}

export interface KafkaConfigInput {
  port: number
  controllerPort: number
  /** Where partitions and the KRaft metadata log live. */
  logDir: string
  tls?: KafkaTlsListener
}

/**
 * The SCRAM user of the TLS listener. A fixed, public password: the listener is on loopback, for testing
 * the services' TLS and SASL settings, not for keeping anyone out.
 */
export const LOCAL_KAFKA_SCRAM = {
  mechanism: 'scram-sha-512',
  username: 'adtrack',
  password: 'adtrack-local-stack',
} as const
/** The SCRAM mechanisms the TLS listener takes, with LOCAL_KAFKA_SCRAM's credentials for each. */
export const SCRAM_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const

/** `[name=...,password=...]` credentials as StorageTool's --add-scram and kafka-configs take them. */
export function scramCredential(mechanism: (typeof SCRAM_MECHANISMS)[number], withName: boolean): string {
  const name = withName ? `name=${LOCAL_KAFKA_SCRAM.username},` : ''
  return `${mechanism}=[${name}password=${LOCAL_KAFKA_SCRAM.password}]`
}

/**
 * One node that is both broker and KRaft controller: the smallest real Kafka cluster. Clients use the
 * PLAINTEXT listener; with `tls`, a SASL_SSL listener beside it takes TLS clients that log in with SCRAM.
 */
export function kafkaServerProperties({ port, controllerPort, logDir, tls }: KafkaConfigInput): string {
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`]
  const advertised = [`PLAINTEXT://127.0.0.1:${port}`]
  const protocols = ['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT']
  const tlsSettings: Record<string, string> = {}
  if (tls) {
    listeners.push(`SASL_SSL://127.0.0.1:${tls.port}`)
    // Advertised by name, so a client verifying host names checks the certificate against "localhost".
    advertised.push(`SASL_SSL://localhost:${tls.port}`)
    protocols.push('SASL_SSL:SASL_SSL')
    tlsSettings['sasl.enabled.mechanisms'] = SCRAM_MECHANISMS.join(',')
    for (const mechanism of SCRAM_MECHANISMS) {
      tlsSettings[`listener.name.sasl_ssl.${mechanism.toLowerCase()}.sasl.jaas.config`] =
        'org.apache.kafka.common.security.scram.ScramLoginModule required;'
    }
    tlsSettings['listener.name.sasl_ssl.ssl.keystore.type'] = 'PEM'
    tlsSettings['listener.name.sasl_ssl.ssl.keystore.location'] = escapeProperty(tls.keystoreFile)
  }
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: listeners.join(','),
    'advertised.listeners': advertised.join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': protocols.join(','),
    ...tlsSettings,
    'log.dirs': logDir,
    // A single broker cannot hold more than one replica of anything.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'min.insync.replicas': 1,
    'default.replication.factor': 1,
    // The default 50 partitions each for consumer offsets and transaction state make the first consumer
    // group join (and first transactional producer) create 100 logs; a single dev broker needs few.
    'offsets.topic.num.partitions': 6,
    'transaction.state.log.num.partitions': 6,
    // After a crash (SIGKILL) the restarted broker cannot register until the controller has given up on
    // its previous incarnation's session: 9 s by default, plus retry backoff, for a broker that is on the
    // same machine, in the same JVM as its controller. 3 s keeps fault-test restarts quick.
    'broker.session.timeout.ms': 3000,
    'broker.heartbeat.interval.ms': 500,
    // No 3 s wait for more members before the first rebalance: tests and npm start have one worker.
    'group.initial.rebalance.delay.ms': 0,
    // Topics are created deliberately (with their partition count), never by a typo in a producer.
    'auto.create.topics.enable': 'false',
    'num.partitions': 6,
  }
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${value}`)
  return `# Written by @adtrack/local-stack on every start; changes here are overwritten.\n${lines.join('\n')}\n`
}

/** Everything into one size-capped file in the data dir; nothing on stdout. */
export function kafkaLog4jProperties(logFile: string): string {
  return `${[
    '# Written by @adtrack/local-stack on every start; changes here are overwritten.',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${escapeProperty(logFile)}`,
    'log4j.appender.file.MaxFileSize=20MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // Per-request and per-partition chatter, as quiet as in Kafka's own config/log4j.properties.
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.log.LogCleaner=WARN',
    'log4j.logger.org.apache.kafka.storage.internals.log.LogCleaner=WARN',
  ].join('\n')}\n`
}

/**
 * A cluster id as `kafka-storage.sh random-uuid` makes it: 16 random bytes, URL-safe base64 without padding.
 * TRICKY: Kafka never hands out one starting with '-', since StorageTool's argument parser would read it as
 * an option; neither do we.
 */
export function newKafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  while (true) {
    const id = random(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

export function kafkaJvmArgs(opts: { classpath: string; log4jFile: string }): string[] {
  return [
    // Modest heap: a 2-core laptop or CI runner also runs Postgres, Redis and three Node services.
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${opts.log4jFile}`,
    '-cp',
    opts.classpath,
  ]
}

// java.util.Properties treats backslash as an escape character.
function escapeProperty(value: string): string {
  return value.replaceAll('\\', '\\\\')
}
