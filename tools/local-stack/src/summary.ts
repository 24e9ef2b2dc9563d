import type { StackCliPorts } from './cli-settings.js'
import type { StackTls } from './stack.js'

export interface SummaryInput {
  ports: StackCliPorts
  postgresUrl: string
  redisUrl: string
  kafkaBrokers: string[]
  tls: StackTls
  /** STACK_TLS: the services were given the TLS addresses. */
  servicesUseTls?: boolean
  /** gateway: the directory of nginx's log and access log, only in `up`. */
  logs: { services: string; postgres: string; redis: string; kafka: string; gateway?: string }
}

const row = (label: string, value: string) => `  ${label.padEnd(15)}${value}`

function dependencyRows(input: SummaryInput): string[] {
  return [
    row('postgres', `${input.postgresUrl}   log: ${input.logs.postgres}`),
    row('redis', `${input.redisUrl}   log: ${input.logs.redis}`),
    row('kafka', `${input.kafkaBrokers.join(',')}   log: ${input.logs.kafka}`),
    row('kafka TLS', `${input.tls.kafkaBrokers.join(',')}   SASL_SSL, ${scram(input.tls)}`),
    row('postgres TLS', input.tls.databaseUrl),
    row('redis TLS', input.tls.redisUrl),
    row('TLS CA', input.tls.caFile),
  ]
}

const scram = (tls: StackTls) =>
  `${tls.kafkaSasl.mechanism} user ${tls.kafkaSasl.username} password ${tls.kafkaSasl.password}`

/** The variables that point a service at the TLS listeners. */
function tlsExports(tls: StackTls): string {
  return [
    `  export DATABASE_URL='${tls.databaseUrl}' KAFKA_BROKERS=${tls.kafkaBrokers.join(',')}`,
    `  export REDIS_URL=${tls.redisUrl} REDIS_TLS_CA_FILE=${tls.caFile}`,
    `  export KAFKA_TLS_CA_FILE=${tls.caFile} KAFKA_SASL_MECHANISM=${tls.kafkaSasl.mechanism}`,
    `  export KAFKA_SASL_USERNAME=${tls.kafkaSasl.username} KAFKA_SASL_PASSWORD=${tls.kafkaSasl.password}`,
  ].join('\n')
}

/** What `up` prints once everything is ready. */
export function upSummary(input: SummaryInput): string {
  const { ports } = input
  const local = (port: number, path = '') => `http://localhost:${port}${path}`
  const gateway = local(ports.gateway)
  return [
    '',
    'ad-tracking is running',
    row('dashboard', `${gateway}/dashboard/   the advertisers' dashboard (served by analytics-api)`),
    row('gateway', `${gateway}   nginx with deploy/compose/nginx (the Ingress's routes)`),
    row('', '/ads/click, /ads/clicks and /track/ -> ingest-api, everything else -> analytics-api'),
    row('ingest-api', `${local(ports.ingest)}   metrics ${local(ports.ingestMetrics, '/metrics')}`),
    row('analytics-api', `${local(ports.analytics)}   metrics ${local(ports.analyticsMetrics, '/metrics')}`),
    row('click-worker', `metrics ${local(ports.workerMetrics, '/metrics')}`),
    row(
      'connections',
      input.servicesUseTls
        ? 'services use Kafka TLS + SCRAM, Postgres TLS and Redis TLS (STACK_TLS=true)'
        : 'services use plain Kafka, Postgres and Redis (STACK_TLS=true for TLS)',
    ),
    ...dependencyRows(input),
    row('service logs', input.logs.services),
    ...(input.logs.gateway ? [row('gateway logs', `${input.logs.gateway}/nginx.log, access.log`)] : []),
    '',
    'Try:',
    `  curl -X GET ${gateway}/ads`,
    `  curl -X POST ${gateway}/ads/click -d '{"ad_id": "1", "playback_time": 30}'`,
    // Quoted: an unquoted `?` is a glob in zsh ("no matches found").
    `  curl -X GET '${gateway}/ads/analytics?ad_id=1'`,
    '',
    'Ctrl-C to stop',
    '',
  ].join('\n')
}

/** What `deps` prints: where the dependencies are, and the environment a service needs to use them. */
export function depsSummary(input: SummaryInput): string {
  return [
    '',
    'Kafka, Postgres and Redis are running',
    ...dependencyRows(input),
    '',
    'Run services against them with:',
    `  export DATABASE_URL=${input.postgresUrl} REDIS_URL=${input.redisUrl} KAFKA_BROKERS=${input.kafkaBrokers.join(',')}`,
    '  npm run migrate && npm run seed',
    '',
    'Or over TLS, as production connects (Kafka SASL_SSL with SCRAM, Postgres verify-full, Redis TLS):',
    tlsExports(input.tls),
    '',
    'Ctrl-C to stop',
    '',
  ].join('\n')
}
