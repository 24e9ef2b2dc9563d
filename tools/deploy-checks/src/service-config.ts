import { AnalyticsConfig, IngestConfig, WorkerConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import { loadTrackingKeys } from '@adtrack/service-runtime/impression-token'
import type { ServiceName } from './paths.js'

const schemas = {
  'ingest-api': IngestConfig,
  'click-worker': WorkerConfig,
  'analytics-api': AnalyticsConfig,
} as const

/** Variables every Node process may be given on purpose, beyond a service's own configuration. */
const PROCESS_VARIABLES = new Set(['NODE_ENV', 'NODE_OPTIONS', 'TZ'])

/** The variables a service reads (packages/contracts/src/config.ts). */
export function configVariables(service: ServiceName): string[] {
  return Object.keys(schemas[service].properties)
}

/**
 * Problems with the environment a deployment gives a service: names the service does not read (a typo
 * there is silently ignored by the service, so only this catches it) and values its own config loader
 * rejects.
 */
export function checkServiceEnvironment(service: ServiceName, env: Record<string, string>): string[] {
  const known = new Set(configVariables(service))
  const problems = Object.keys(env)
    .filter((name) => !known.has(name) && !PROCESS_VARIABLES.has(name))
    .map((name) => `${service} does not read ${name}`)
  try {
    const config = loadConfig(schemas[service], env) as Record<string, unknown>
    // The APIs check their tracking keys at start-up, beyond the schema (a weak or public development key
    // stops them in production). The images run with NODE_ENV=production (deploy/Dockerfile), so a
    // rendering that does not set NODE_ENV is judged as production too.
    if ('TRACKING_TOKEN_KEYS' in config)
      loadTrackingKeys({
        TRACKING_TOKEN_KEYS: String(config.TRACKING_TOKEN_KEYS),
        NODE_ENV: env.NODE_ENV ?? 'production',
      })
  } catch (err) {
    problems.push(`${service}: ${(err as Error).message}`)
  }
  return problems
}
