import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import { ensureKafkaClasspath } from './kafka-classpath.js'
import {
  kafkaJvmArgs,
  kafkaLog4jProperties,
  kafkaServerProperties,
  newKafkaClusterId,
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
  log?: Log
}

class KafkaProcess extends ManagedServer implements KafkaServer {
  constructor(
    spec: ServerSpec,
    readonly brokers: string[],
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
  }
  await mkdir(dataDir, { recursive: true })
  const jvmArgs = kafkaJvmArgs({ classpath, log4jFile: files.log4j })
  const { port, controllerPort } = opts

  const server = new KafkaProcess(
    {
      name: 'kafka',
      logFile: files.brokerLog,
      outputFile: files.jvmOutput,
      ports: [
        { port, purpose: 'port' },
        { port: controllerPort, purpose: 'controller port' },
      ],
      prepare: async () => {
        await writeFile(
          files.properties,
          kafkaServerProperties({ port, controllerPort, logDir: files.logDir }),
        )
        await writeFile(files.log4j, kafkaLog4jProperties(files.brokerLog))
        await formatStorageOnce(java, jvmArgs, files.properties, files.logDir, log)
      },
      command: java,
      args: [...jvmArgs, 'kafka.Kafka', files.properties],
      cwd: dataDir,
      isReady: async () => (await fetchBrokers(port)).some((broker) => broker.port === port),
      // SIGTERM runs the JVM's shutdown hook: a controlled shutdown that closes every log cleanly.
      stopSignal: 'SIGTERM',
      startTimeoutMs: 120_000,
      log,
    },
    [`127.0.0.1:${port}`],
  )
  await server.start()
  return server
}

/** KRaft storage must be formatted with a cluster id once; meta.properties records that it was. */
async function formatStorageOnce(
  java: string,
  jvmArgs: string[],
  propertiesFile: string,
  logDir: string,
  log: Log,
): Promise<void> {
  if (existsSync(join(logDir, 'meta.properties'))) return
  const clusterId = newKafkaClusterId()
  log(`formatting Kafka storage in ${logDir} (cluster id ${clusterId})`)
  await runChecked(
    java,
    [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propertiesFile],
    {
      timeoutMs: 120_000,
    },
  )
}
