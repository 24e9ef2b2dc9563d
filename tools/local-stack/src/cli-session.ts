import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { killAllTrackedNow, trackedProcesses } from './child-registry.js'
import { DEPENDENCY_PORT_KEYS, PORT_SETTINGS, type PortKey, type StackCliPorts } from './cli-settings.js'
import { ensureBinaries } from './ensure-binaries.js'
import { startGateway } from './gateway.js'
import { findLeftoverProcesses } from './leftover-processes.js'
import type { Log } from './log.js'
import { describeExit } from './managed-server.js'
import { isPortFree } from './ports.js'
import { createService, type DependencyAddresses, SERVICES, serviceEntryPoint } from './services.js'
import { type Stack, startStack } from './stack.js'
import { depsSummary, type SummaryInput, upSummary } from './summary.js'
import type { ManagedProcess } from './types.js'

export type Mode = 'up' | 'deps'

export interface SessionOptions {
  mode: Mode
  repoRoot: string
  dataDir: string
  ports: StackCliPorts
  /** Services connect to Kafka, PostgreSQL and Redis over TLS (STACK_TLS). */
  tls: boolean
  /** Progress lines. */
  say: Log
  /** Loud warnings (a server died). */
  shout: Log
  /** The summary. */
  print: (text: string) => void
}

// The gateway first, then services before the dependencies they use, ingest first so no click arrives
// that cannot be processed.
const STOP_ORDER = ['gateway', ...SERVICES.map((service) => service.name), 'kafka', 'redis', 'postgres']
const SERVICE_STOP_TIMEOUT_MS = 30_000

class StopRequested extends Error {}

/** One run of `up` or `deps`: starts everything in order, and stops it in the reverse order. */
export class StackSession {
  #stopping: Promise<void> | undefined

  constructor(private readonly opts: SessionOptions) {}

  get stopping(): boolean {
    return this.#stopping !== undefined
  }

  /** Starts everything the mode needs; rejects on any failure (the caller then calls shutdown()). */
  async run(): Promise<void> {
    const { mode, dataDir, ports, say } = this.opts
    await this.#assertPortsFree(mode === 'up' ? PORT_SETTINGS.map((s) => s.key) : DEPENDENCY_PORT_KEYS)

    say(
      `checking for PostgreSQL, Redis, Java, Kafka${mode === 'up' ? ' and nginx' : ''} (installing whatever is missing)`,
    )
    await ensureBinaries(say, mode === 'up' ? ['nginx'] : [])
    this.#checkpoint()

    const logDir = join(dataDir, 'logs')
    await mkdir(logDir, { recursive: true })
    say(`starting Postgres, Redis and Kafka (data in ${dataDir})`)
    const started = Date.now()
    const stack = await startStack({
      dataDir,
      ports: {
        postgres: ports.postgres,
        redis: ports.redis,
        redisTls: ports.redisTls,
        kafka: ports.kafka,
        kafkaController: ports.kafkaController,
        kafkaTls: ports.kafkaTls,
      },
      persistRedis: true,
      log: say,
    })
    this.#checkpoint()
    say(`Postgres, Redis and Kafka ready in ${seconds(started)}`)
    for (const server of [stack.postgres, stack.redis, stack.kafka]) this.#reportUnexpectedExit(server)

    const summary = this.#summaryInput(stack, logDir)
    if (mode === 'deps') {
      this.opts.print(depsSummary(summary))
      return
    }

    const deps: DependencyAddresses = this.opts.tls
      ? {
          databaseUrl: stack.tls.databaseUrl,
          redisUrl: stack.tls.redisUrl,
          kafkaBrokers: stack.tls.kafkaBrokers,
          tls: { caFile: stack.tls.caFile, kafkaSasl: stack.tls.kafkaSasl },
        }
      : { databaseUrl: stack.postgres.url, redisUrl: stack.redis.url, kafkaBrokers: stack.kafka.brokers }
    if (this.opts.tls) {
      say('STACK_TLS: the services connect to Kafka (SASL_SSL, SCRAM), PostgreSQL and Redis over TLS')
    }
    await this.#migrateAndSeed(deps.databaseUrl)
    this.#checkpoint()
    await this.#startServices(deps, logDir)
    this.#checkpoint()

    say('starting the gateway (nginx with deploy/compose/nginx/templates/default.conf.template)')
    const gateway = await startGateway({
      dir: join(dataDir, 'gateway'),
      variables: {
        GATEWAY_PORT: String(ports.gateway),
        INGEST_API_ADDR: `127.0.0.1:${ports.ingest}`,
        ANALYTICS_API_ADDR: `127.0.0.1:${ports.analytics}`,
      },
      log: say,
    })
    this.#reportUnexpectedExit(gateway)
    this.#checkpoint()
    this.opts.print(upSummary(summary))
  }

  /** Stops the gateway, then services, then Kafka, Redis and Postgres, one at a time, saying each step. */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#shutdown()
    return this.#stopping
  }

  /** Second Ctrl-C: no more waiting. */
  force(): void {
    this.opts.say('forced: killing everything')
    killAllTrackedNow()
  }

  async #shutdown(): Promise<void> {
    const { say } = this.opts
    // From the registry rather than from what run() got back: a Ctrl-C during start must also stop the
    // servers that are still starting.
    const running = trackedProcesses()
    const rank = (name: string) => (STOP_ORDER.includes(name) ? STOP_ORDER.indexOf(name) : STOP_ORDER.length)
    for (const server of running.sort((a, b) => rank(a.name) - rank(b.name))) {
      say(`stopping ${server.name}`)
      const isService = SERVICES.some((service) => service.name === server.name)
      await server.stop(isService ? SERVICE_STOP_TIMEOUT_MS : undefined)
    }
    if (running.length > 0) say('everything stopped')
  }

  #checkpoint(): void {
    if (this.stopping) throw new StopRequested('stopping')
  }

  async #assertPortsFree(keys: readonly PortKey[]): Promise<void> {
    const settings = PORT_SETTINGS.filter((setting) => keys.includes(setting.key))
    const free = await Promise.all(settings.map((setting) => isPortFree(this.opts.ports[setting.key])))
    const busy = settings.filter((_, i) => !free[i])
    if (busy.length === 0) return
    const lines = busy.map(
      (s) =>
        `  port ${this.opts.ports[s.key]} (${s.purpose}) is already in use; free it or set ${s.variable}`,
    )
    const { repoRoot, dataDir } = this.opts
    const entryPoints = SERVICES.map((service) => serviceEntryPoint(repoRoot, service.name))
    const leftovers = await findLeftoverProcesses(dataDir, entryPoints)
    if (leftovers.length > 0) {
      const list = leftovers.map((p) => `${p.pid} (${p.command})`).join(', ')
      lines.push(`  still running from an earlier run that was killed before it could stop them: ${list}`)
      lines.push(`  stop them with: kill ${leftovers.map((p) => p.pid).join(' ')}`)
    }
    const taken = busy.length === 1 ? 'a port is' : 'ports are'
    throw new Error(`cannot start: ${taken} taken\n${lines.join('\n')}`)
  }

  async #migrateAndSeed(databaseUrl: string): Promise<void> {
    const { repoRoot, say } = this.opts
    const cli = join(repoRoot, 'packages', 'db', 'dist', 'cli.js')
    if (!existsSync(cli)) {
      throw new Error(`${relative(repoRoot, cli)} does not exist; build first: pnpm build`)
    }
    for (const command of ['migrate', 'seed']) {
      say(`${command === 'migrate' ? 'migrating the database' : 'seeding demo ads'} (db ${command})`)
      const exitCode = await runToExit(process.execPath, [cli, command], {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: databaseUrl },
      })
      if (exitCode !== 0) {
        throw new Error(
          `\`node ${relative(repoRoot, cli)} ${command}\` failed (exit ${exitCode}); its output is above`,
        )
      }
      this.#checkpoint()
    }
  }

  async #startServices(deps: DependencyAddresses, logDir: string): Promise<void> {
    const { repoRoot, ports, dataDir, say } = this.opts
    const services = SERVICES.map((service) => ({
      service,
      process: createService({ service, repoRoot, ports, deps, logDir, dataDir, log: say }),
    }))
    say(`starting ${SERVICES.map((s) => s.name).join(', ')} (logs in ${logDir})`)
    const started = Date.now()
    const results = await Promise.allSettled(
      services.map(async ({ service, process }) => {
        await process.start()
        say(`${service.name} ready (${seconds(started)})`)
        this.#reportUnexpectedExit(process)
      }),
    )
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))
    if (failures.length > 0) throw new Error(failures.join('\n\n'))
  }

  #reportUnexpectedExit(server: ManagedProcess): void {
    server.onUnexpectedExit((exit) => {
      if (this.stopping) return
      const { shout } = this.opts
      shout(`!!! ${server.name} exited unexpectedly (${describeExit(exit)})`)
      shout(`!!! its log: ${server.logFile}`)
      shout('!!! whatever depends on it fails until it is back: Ctrl-C, then start again')
    })
  }

  #summaryInput(stack: Stack, logDir: string): SummaryInput {
    return {
      ports: this.opts.ports,
      postgresUrl: stack.postgres.url,
      redisUrl: stack.redis.url,
      kafkaBrokers: stack.kafka.brokers,
      tls: stack.tls,
      servicesUseTls: this.opts.tls,
      logs: {
        services: logDir,
        postgres: stack.postgres.logFile,
        redis: stack.redis.logFile,
        kafka: stack.kafka.logFile,
        gateway: this.opts.mode === 'up' ? join(this.opts.dataDir, 'gateway') : undefined,
      },
    }
  }
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`

/** Runs a short command with our terminal as its output; resolves to its exit code (or signal name). */
function runToExit(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) {
  return new Promise<number | string>((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
}
