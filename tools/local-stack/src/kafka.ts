import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import { ensureKafkaClasspath } from './kafka-classpath.js'
import {
  type KafkaTlsListener,
  kafkaJvmArgs,
  kafkaLog4jProperties,
  kafkaServerProperties,
  LOCAL_KAFKA_SCRAM,
  newKafkaClusterId,
  SCRAM_MECHANISMS,
  scramCredential,
} from './kafka-config.js'
import { fetchBrokers } from './kafka-probe.js'
import { type Log, stderrLog } from './log.js'
import { ManagedServer, type ServerSpec } from './managed-server.js'
import { runChecked } from './run-command.js'
import { toolPath } from './system-tools.js'
import type { KafkaServer } from './types.js'

export interface KafkaOptions {
  dataDir: string
  port: number
  /** The KRaft controller listener. */
  controllerPort: number
  /** A SASL_SSL listener beside the PLAINTEXT one (the SCRAM user is LOCAL_KAFKA_SCRAM). */
  tls?: KafkaTlsListener
  log?: Log
}

class KafkaProcess extends ManagedServer implements KafkaServer {
  constructor(
    spec: ServerSpec,
    readonly brokers: string[],
    readonly tlsBrokers: string[] | undefined,
  ) {
    super(spec)
  }
}

/** Starts a single-node Kafka (broker and KRaft controller in one JVM) with its data in dataDir. */
export async function startKafka(opts: KafkaOptions): Promise<KafkaServer> {
  const log = opts.log ?? stderrLog
  await ensureTools(['java'], log)
  const classpath = await ensureKafkaClasspath(log)
  const java = toolPath('java')
  const dataDir = resolve(opts.dataDir)
  const files = {
    properties: join(dataDir, 'server.properties'),
    log4j: join(dataDir, 'log4j.properties'),
    brokerLog: join(dataDir, 'server.log'),
    jvmOutput: join(dataDir, 'stdout.log'),
    logDir: join(dataDir, 'data'),
    // Present once the SCRAM user exists: formatted with it, or added to storage formatted before.
    scramMarker: join(dataDir, 'scram-users'),
  }
  await mkdir(dataDir, { recursive: true })
  const jvmArgs = kafkaJvmArgs({ classpath, log4jFile: files.log4j })
  const { port, controllerPort, tls } = opts

  const server = new KafkaProcess(
    {
      name: 'kafka',
      logFile: files.brokerLog,
      outputFile: files.jvmOutput,
      ports: [
        { port, purpose: 'port' },
        { port: controllerPort, purpose: 'controller port' },
        ...(tls ? [{ port: tls.port, purpose: 'TLS port' }] : []),
      ],
      prepare: async () => {
        await writeFile(
          files.properties,
          kafkaServerProperties({ port, controllerPort, logDir: files.logDir, tls }),
        )
        await writeFile(files.log4j, kafkaLog4jProperties(files.brokerLog))
        if (await formatStorageOnce(java, jvmArgs, files.properties, files.logDir, log)) {
          await writeFile(files.scramMarker, `${SCRAM_MECHANISMS.join(',')}\n`)
        }
      },
      command: java,
      args: [...jvmArgs, 'kafka.Kafka', files.properties],
      cwd: dataDir,
      isReady: async () => (await fetchBrokers(port)).some((broker) => broker.port === port),
      afterReady: async () => {
        if (tls && !existsSync(files.scramMarker)) {
          await addScramUser(java, jvmArgs, port, log)
          await writeFile(files.scramMarker, `${SCRAM_MECHANISMS.join(',')}\n`)
        }
      },
      // SIGTERM runs the JVM's shutdown hook: a controlled shutdown that closes every log cleanly.
      stopSignal: 'SIGTERM',
      startTimeoutMs: 120_000,
      log,
    },
    [`127.0.0.1:${port}`],
    tls ? [`localhost:${tls.port}`] : undefined,
  )
  await server.start()
  return server
}

/**
 * KRaft storage must be formatted with a cluster id once; meta.properties records that it was. The
 * SCRAM user goes into the first metadata at the same time. Resolves true if this call formatted it.
 */
async function formatStorageOnce(
  java: string,
  jvmArgs: string[],
  propertiesFile: string,
  logDir: string,
  log: Log,
): Promise<boolean> {
  if (existsSync(join(logDir, 'meta.properties'))) return false
  const clusterId = newKafkaClusterId()
  log(`formatting Kafka storage in ${logDir} (cluster id ${clusterId})`)
  const scram = SCRAM_MECHANISMS.flatMap((mechanism) => ['--add-scram', scramCredential(mechanism, true)])
  await runChecked(
    java,
    [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propertiesFile, ...scram],
    { timeoutMs: 120_000 },
  )
  return true
}

/** For storage formatted before the TLS listener existed: adds the SCRAM user through the running broker. */
async function addScramUser(java: string, jvmArgs: string[], port: number, log: Log): Promise<void> {
  log('adding the SCRAM user of the TLS listener to Kafka storage formatted without it')
  // TRICKY: one mechanism per run; both in one request fail with "A user credential cannot be altered
  // twice in the same request" (Kafka 3.9).
  for (const mechanism of SCRAM_MECHANISMS) {
    await runChecked(
      java,
      [
        ...jvmArgs,
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        `127.0.0.1:${port}`,
        '--alter',
        '--add-config',
        scramCredential(mechanism, false),
        '--entity-type',
        'users',
        '--entity-name',
        LOCAL_KAFKA_SCRAM.username,
      ],
      { timeoutMs: 120_000 },
    )
  }
}
