import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { PortKey, StackCliPorts } from './cli-settings.js'
import type { Log } from './log.js'
import { ManagedServer } from './managed-server.js'
import type { ManagedProcess } from './types.js'

export type ServiceName = 'ingest-api' | 'click-worker' | 'analytics-api'

export interface ServiceDefinition {
  name: ServiceName
  /** The public HTTP API's port; the worker has none. */
  httpPort?: PortKey
  metricsPort: PortKey
}

/** In start order; stopped in the same order (ingest first, so no click arrives that cannot be processed). */
export const SERVICES: readonly ServiceDefinition[] = [
  { name: 'ingest-api', httpPort: 'ingest', metricsPort: 'ingestMetrics' },
  { name: 'click-worker', metricsPort: 'workerMetrics' },
  { name: 'analytics-api', httpPort: 'analytics', metricsPort: 'analyticsMetrics' },
]

export interface DependencyAddresses {
  databaseUrl: string
  redisUrl: string
  kafkaBrokers: string[]
  /**
   * When the addresses are the TLS ones (STACK_TLS): the CA that signed them all (KAFKA_TLS_CA_FILE,
   * REDIS_TLS_CA_FILE; DATABASE_URL names it itself) and Kafka's SASL user.
   */
  tls?: { caFile: string; kafkaSasl: { mechanism: string; username: string; password: string } }
}

/**
 * A service's environment: the caller's, with the stack's addresses and ports on top. dataDir, when
 * given, is the stack's data directory (STACK_DATA_DIR), where ingest-api keeps its spool too.
 */
export function serviceEnv(
  service: ServiceDefinition,
  ports: StackCliPorts,
  deps: DependencyAddresses,
  baseEnv: NodeJS.ProcessEnv,
  dataDir?: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    METRICS_PORT: String(ports[service.metricsPort]),
    DATABASE_URL: deps.databaseUrl,
    REDIS_URL: deps.redisUrl,
    KAFKA_BROKERS: deps.kafkaBrokers.join(','),
    KAFKA_TOPIC: baseEnv.KAFKA_TOPIC || 'ad-clicks',
    ...(deps.tls
      ? {
          KAFKA_TLS: 'true',
          KAFKA_TLS_CA_FILE: deps.tls.caFile,
          KAFKA_SASL_MECHANISM: deps.tls.kafkaSasl.mechanism,
          KAFKA_SASL_USERNAME: deps.tls.kafkaSasl.username,
          KAFKA_SASL_PASSWORD: deps.tls.kafkaSasl.password,
          REDIS_TLS_CA_FILE: deps.tls.caFile,
        }
      : {}),
    LOG_LEVEL: baseEnv.LOG_LEVEL || 'info',
  }
  if (service.httpPort) env.HTTP_PORT = String(ports[service.httpPort])
  // The gateway on loopback adds X-Forwarded-For; ingest-api believes it only from a trusted proxy, and
  // would otherwise record every click as coming from 127.0.0.1.
  if (service.name === 'ingest-api') env.TRUSTED_PROXIES = baseEnv.TRUSTED_PROXIES || '127.0.0.1,::1'
  // SPOOL_DIR's default is relative to the working directory (the repository), so without this the spool
  // would stay in <repo>/.data while STACK_DATA_DIR moved everything else.
  if (service.name === 'ingest-api' && dataDir)
    env.SPOOL_DIR = baseEnv.SPOOL_DIR || join(dataDir, 'ingest-spool')
  // The local stack is driven by curl, which the bot list rightly calls a non-browser client; with the
  // filter on, the old README's curl click would be stored as invalid (bot) and click_count not move.
  if (service.name === 'click-worker') env.FILTER_BOTS = baseEnv.FILTER_BOTS || 'false'
  // VAST tags must point players at the gateway, wherever STACK_GATEWAY_PORT moved it.
  if (service.name === 'analytics-api') {
    env.PUBLIC_BASE_URL = baseEnv.PUBLIC_BASE_URL || `http://localhost:${ports.gateway}`
  }
  return env
}

/** Where a service's readiness is served: the APIs on their HTTP port, the worker on its metrics port. */
export function readinessUrl(service: ServiceDefinition, ports: StackCliPorts): string {
  return `http://127.0.0.1:${ports[service.httpPort ?? service.metricsPort]}/readyz`
}

export function serviceEntryPoint(repoRoot: string, name: ServiceName): string {
  return join(repoRoot, 'apps', name, 'dist', 'server.js')
}

export interface ServiceOptions {
  service: ServiceDefinition
  repoRoot: string
  ports: StackCliPorts
  deps: DependencyAddresses
  logDir: string
  /** The stack's data directory: ingest-api's spool goes in it. */
  dataDir?: string
  log: Log
}

/** A service as a managed child process (`node apps/<name>/dist/server.js`), not yet started. */
export function createService(opts: ServiceOptions): ManagedProcess {
  const { service, repoRoot, ports } = opts
  const entryPoint = serviceEntryPoint(repoRoot, service.name)
  if (!existsSync(entryPoint)) {
    throw new Error(
      `${relative(repoRoot, entryPoint)} does not exist; build first: pnpm build (npm start does)`,
    )
  }
  const url = readinessUrl(service, ports)
  const servicePorts = [service.httpPort, service.metricsPort].flatMap((key) =>
    key ? [{ port: ports[key], purpose: key === service.metricsPort ? 'metrics port' : 'HTTP port' }] : [],
  )
  return new ManagedServer({
    name: service.name,
    logFile: join(opts.logDir, `${service.name}.log`),
    ports: servicePorts,
    command: process.execPath,
    args: [entryPoint],
    cwd: repoRoot,
    env: serviceEnv(service, ports, opts.deps, process.env, opts.dataDir),
    isReady: () => isHttpOk(url),
    // The services drain in-flight work on SIGTERM (within their SHUTDOWN_TIMEOUT, 20 s by default).
    stopSignal: 'SIGTERM',
    startTimeoutMs: 60_000,
    log: opts.log,
  })
}

async function isHttpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
  await response.body?.cancel()
  return response.status === 200
}
