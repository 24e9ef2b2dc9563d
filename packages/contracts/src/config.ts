import { Type } from 'typebox'
import { DURATION_PATTERN } from './duration.js'
import { DEFAULT_CLICK_TOPIC } from './topics.js'

// Environment of each service. Variable names follow the system we replace (HTTP_PORT, KAFKA_BROKERS,
// KAFKA_TOPIC, REDIS_URL, DATABASE_URL, METRICS_PORT, READ_TIMEOUT, WRITE_TIMEOUT); defaults suit the
// local stack (`npm start`), so a service runs on a laptop with no environment at all.

const Port = (fallback: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: fallback, description })
const Duration = (fallback: string, description: string) =>
  Type.String({ pattern: DURATION_PATTERN, default: fallback, description })

const LOG_LEVEL = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
  { default: 'info', description: 'pino log level.' },
)
/** The local stack's database; also the db package's CLI default, which has no schema of its own. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres:password@localhost:5432/ad_tracking'
const DATABASE_URL = Type.String({
  pattern: '^postgres(ql)?://',
  default: DEFAULT_DATABASE_URL,
  description: 'PostgreSQL connection URL.',
})
/**
 * Connection budget: each service's own pool size (its default is today's), and how it talks to
 * PostgreSQL or a pooler in front of it. deploy/README.md adds the pools up against max_connections.
 */
const database = (poolMax: number) => ({
  DATABASE_URL,
  DATABASE_POOL_MAX: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: poolMax,
    description:
      'Most PostgreSQL connections this process opens (its pool); replicas times this must fit max_connections, or the pooler.',
  }),
  DATABASE_PASSWORD: Type.String({
    default: '',
    description:
      "Password for DATABASE_URL's user when the URL carries none (lets a Kubernetes Secret key supply it alone); empty: the URL's.",
  }),
  DATABASE_PREPARE: Type.Boolean({
    default: true,
    description:
      'Use named prepared statements. Set false behind a transaction-mode pooler that cannot track them (PgBouncer before 1.21, or max_prepared_statements=0).',
  }),
})
const REDIS_URL = Type.String({
  minLength: 1,
  default: 'redis://localhost:6379',
  description: 'Redis URL (redis://host:port/db) or host:port.',
})
const REDIS_TLS_CA_FILE = Type.String({
  default: '',
  maxLength: 4096,
  description:
    "PEM file of the CA that signs Redis's certificate, for a rediss:// REDIS_URL (a private CA); empty: Node.js's bundled CAs.",
})
const KAFKA_BROKERS = Type.String({
  pattern: '^[^,\\s]+(,[^,\\s]+)*$',
  default: 'localhost:9092',
  description: 'Comma-separated Kafka bootstrap brokers, host:port.',
})
/**
 * How a Kafka client reaches the brokers: KAFKA_BROKERS, then TLS and SASL (Strimzi's tls listener with
 * scram-sha-512 authentication, say). service-runtime's kafkaSecurity turns these into kafkajs options
 * and refuses combinations that make no sense (a mechanism without credentials, PLAIN without TLS).
 */
const kafkaConnection = {
  KAFKA_BROKERS,
  KAFKA_TLS: Type.Boolean({
    default: false,
    description: 'Connect to the brokers over TLS (on by itself when KAFKA_TLS_CA_FILE is set).',
  }),
  KAFKA_TLS_CA_FILE: Type.String({
    default: '',
    maxLength: 4096,
    description:
      "PEM file of the CA certificates that sign the brokers' certificates (Strimzi: the cluster CA's ca.crt); empty: Node.js's bundled CAs.",
  }),
  KAFKA_SASL_MECHANISM: Type.Union(
    [Type.Literal(''), Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')],
    {
      default: '',
      description:
        'SASL authentication to the brokers: scram-sha-512 (Strimzi), scram-sha-256, or plain (only with TLS); empty: none.',
    },
  ),
  KAFKA_SASL_USERNAME: Type.String({ default: '', maxLength: 1024, description: 'SASL user name.' }),
  KAFKA_SASL_PASSWORD: Type.String({
    default: '',
    maxLength: 1024,
    description: "SASL password (Strimzi: the KafkaUser Secret's password key).",
  }),
}
const KafkaConnectionSchema = Type.Object(kafkaConnection)
/** Every Kafka setting shared by the services and the CLIs that talk to Kafka. */
export type KafkaConnectionConfig = Type.Static<typeof KafkaConnectionSchema>

const KAFKA_TOPIC = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,200}$',
  default: DEFAULT_CLICK_TOPIC,
  description: 'Topic that carries click events.',
})
const REDIS_KEY_PREFIX = Type.String({
  default: '',
  description: 'Prefix for every Redis key (lets several deployments or tests share one Redis).',
})

// Impression tokens: analytics-api signs them into VAST tags, ingest-api verifies them on pixels; both
// must hold the same keys. Parsed (and refused when weak) by service-runtime's loadTrackingKeys.
const trackingTokens = {
  TRACKING_TOKEN_KEYS: Type.String({
    default: '',
    maxLength: 4096,
    description:
      'Comma-separated id:secret keys for impression tokens, each id 1-16 letters, digits, _ or -, each secret 32+ characters; the first signs, all verify (rotation). Empty: a public development key, refused when NODE_ENV=production.',
  }),
  TRACKING_TOKEN_MAX_AGE: Duration(
    '24h',
    'How long after a serve its tracking events are accepted; also how long an old key must stay after rotation.',
  ),
  TRACKING_CORS_ORIGINS: Type.String({
    default: '*',
    maxLength: 4096,
    description:
      'Origins whose pages may call the tracking routes and fetch VAST tags from script: * for any, or a comma-separated list of exact origins (https://player.example.com).',
  }),
  NODE_ENV: Type.String({
    default: 'development',
    description: 'production refuses the public development TRACKING_TOKEN_KEYS (the image sets it).',
  }),
}

// Used by whichever service starts first to create the clicks topic if it is missing.
const topicCreation = {
  KAFKA_TOPIC_PARTITIONS: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 12,
    description: 'Partitions of the clicks topic when it is created; caps worker parallelism.',
  }),
  KAFKA_REPLICATION_FACTOR: Type.Integer({
    minimum: 1,
    default: 1,
    description: 'Replication factor when the clicks topic is created (3 in production).',
  }),
}

const http = {
  HTTP_PORT: Port(8080, 'Port of the public HTTP API.'),
  HTTP_HOST: Type.String({ default: '0.0.0.0', description: 'Address the HTTP API binds to.' }),
  METRICS_PORT: Port(2112, 'Port serving /metrics, /livez and /readyz for Prometheus and probes.'),
  READ_TIMEOUT: Duration('10s', 'Longest time to receive a whole request.'),
  WRITE_TIMEOUT: Duration('10s', 'Longest time to produce a response (the request deadline).'),
  SHUTDOWN_TIMEOUT: Duration('20s', 'Grace period to drain in-flight work on SIGTERM.'),
  LOG_LEVEL,
}

export const IngestConfig = Type.Object({
  ...http,
  ...kafkaConnection,
  KAFKA_TOPIC,
  KAFKA_CLIENT_ID: Type.String({ default: 'ingest-api' }),
  ...topicCreation,
  // NOTE: only the ad catalogue reload uses PostgreSQL here, one query every AD_CATALOG_REFRESH.
  ...database(2),
  ...trackingTokens,
  TRUSTED_PROXIES: Type.String({
    default: '',
    description:
      'Comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed; empty trusts none.',
  }),
  AD_CATALOG_REFRESH: Duration('2s', 'How often the in-memory catalogue of clickable ads is reloaded.'),
  PRODUCE_LINGER_MS: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 2,
    description: 'How long a click waits for others to share its Kafka batch.',
  }),
  PRODUCE_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
  PRODUCE_MAX_IN_FLIGHT: Type.Integer({
    minimum: 1,
    maximum: 16,
    default: 4,
    description: 'Kafka batches that may await their acknowledgement at once.',
  }),
  REDIS_URL: Type.String({
    minLength: 1,
    default: 'redis://localhost:6379',
    description:
      'Redis shared by ingest-api pods for the per-IP rate limit (redis://host:port/db or host:port).',
  }),
  REDIS_TLS_CA_FILE,
  RATE_LIMIT_MAX: Type.Integer({
    minimum: 0,
    default: 600,
    description:
      'Requests one client IP may make to the click routes per RATE_LIMIT_WINDOW, across all pods; 0 turns the limit off.',
  }),
  RATE_LIMIT_WINDOW: Duration('1m', 'Window of the per-IP rate limit.'),
  BODY_LIMIT: Type.Integer({
    minimum: 256,
    default: 4096,
    description: 'Largest accepted request body, bytes.',
  }),
  BATCH_MAX_CLICKS: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 500,
    description:
      'Most clicks one POST /ads/clicks may carry (413 beyond); its body may be up to 1 KiB per click.',
  }),
  MAX_QUEUED_CLICKS: Type.Integer({
    minimum: 1,
    default: 10_000,
    description: 'Clicks that may wait for the next Kafka batch; beyond that a click is refused with 503.',
  }),
  KAFKA_SEND_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 3,
    description: 'Retries of a failed Kafka send (jittered backoff), never past the request deadline.',
  }),
  KAFKA_BREAKER_THRESHOLD: Type.Integer({
    minimum: 1,
    default: 5,
    description:
      'Consecutive failed Kafka sends that open the circuit breaker (clicks then go to the spool).',
  }),
  KAFKA_BREAKER_HALF_OPEN_AFTER: Duration(
    '5s',
    'How long the circuit breaker stays open before one trial send to Kafka is let through.',
  ),
  SPOOL_DIR: Type.String({
    minLength: 1,
    default: '.data/ingest-spool',
    description:
      'Directory of the local spool (relative to the working directory): clicks Kafka could not take, fsynced before their 202. Give each pod its own persistent volume.',
  }),
  SPOOL_MAX_BYTES: Type.Integer({
    minimum: 65_536,
    default: 268_435_456,
    description:
      'Largest size of the spool on disk; when full, clicks Kafka cannot take are refused with 503.',
  }),
  SPOOL_HIGH_WATER_PERCENT: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 95,
    description:
      'Above this share of SPOOL_MAX_BYTES the spool counts as full: the pod reports not ready while Kafka is not also taking its backlog.',
  }),
  MAX_EVENT_LOOP_DELAY: Duration(
    '1s',
    'Mean event-loop delay above which clicks are refused with 503 instead of slowing everyone down; 0s turns it off.',
  ),
  MAX_HEAP_USED_BYTES: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Heap use above which clicks are refused with 503; 0 means 90% of the V8 heap limit.',
  }),
})
export type IngestConfig = Type.Static<typeof IngestConfig>

const ingest = IngestConfig.properties
/**
 * `replay-spool`, ingest-api's CLI: sends the spool in SPOOL_DIR (a volume no ingest-api pod mounts any
 * more, after a scale-down) to Kafka and exits. Kafka and spool settings as ingest-api reads them.
 */
export const ReplaySpoolConfig = Type.Object({
  LOG_LEVEL,
  ...kafkaConnection,
  KAFKA_TOPIC,
  KAFKA_CLIENT_ID: Type.String({ default: 'ingest-api-replay-spool' }),
  ...topicCreation,
  PRODUCE_BATCH_SIZE: ingest.PRODUCE_BATCH_SIZE,
  PRODUCE_MAX_IN_FLIGHT: ingest.PRODUCE_MAX_IN_FLIGHT,
  KAFKA_SEND_RETRIES: ingest.KAFKA_SEND_RETRIES,
  KAFKA_BREAKER_THRESHOLD: ingest.KAFKA_BREAKER_THRESHOLD,
  KAFKA_BREAKER_HALF_OPEN_AFTER: ingest.KAFKA_BREAKER_HALF_OPEN_AFTER,
  WRITE_TIMEOUT: Duration('10s', 'How long one replayed batch may wait for Kafka before it is tried again.'),
  SPOOL_DIR: ingest.SPOOL_DIR,
  SPOOL_MAX_BYTES: ingest.SPOOL_MAX_BYTES,
  REPLAY_TIMEOUT: Duration(
    '10m',
    'How long replay-spool keeps trying to empty the spool; what is left then stays on disk and it exits 1.',
  ),
  REPLAY_BREAK_LOCK: Type.Boolean({
    default: false,
    description:
      "Remove the spool's LOCK file left by a pod that was killed (its host is another pod's name, so it cannot be proved stale). Only when no ingest-api pod mounts the volume.",
  }),
})
export type ReplaySpoolConfig = Type.Static<typeof ReplaySpoolConfig>

export const WorkerConfig = Type.Object({
  METRICS_PORT: http.METRICS_PORT,
  SHUTDOWN_TIMEOUT: http.SHUTDOWN_TIMEOUT,
  LOG_LEVEL,
  ...kafkaConnection,
  KAFKA_TOPIC,
  KAFKA_CLIENT_ID: Type.String({ default: 'click-worker' }),
  ...topicCreation,
  KAFKA_GROUP_ID: Type.String({ minLength: 1, default: 'click-worker', description: 'Consumer group.' }),
  KAFKA_SESSION_TIMEOUT: Duration(
    '30s',
    'How long the group waits for a silent worker before giving its partitions to others (broker allows 6s-5m).',
  ),
  ...database(4),
  REDIS_URL,
  REDIS_TLS_CA_FILE,
  REDIS_KEY_PREFIX,
  REPEAT_CLICK_WINDOW: Duration(
    '30s',
    'A click on the same ad by the same viewer within this time of the previous one is invalid (repeat).',
  ),
  FILTER_BOTS: Type.Boolean({
    default: true,
    description:
      'Mark clicks from known bots and non-browser clients (the isbot list: crawlers, curl, scripts) as invalid.',
  }),
  VIEWER_HOURLY_CLICK_BUDGET: Type.Integer({
    minimum: 1,
    default: 30,
    description:
      'Clicks a viewer may make per clock hour, all ads together; the rest are invalid (over_budget).',
  }),
  RECONCILE_INTERVAL: Duration(
    '10m',
    'How often the worker rebuilds Redis counts from Postgres and reports drift; 0s turns it off.',
  ),
})
export type WorkerConfig = Type.Static<typeof WorkerConfig>

export const AnalyticsConfig = Type.Object({
  ...http,
  ...database(10),
  REDIS_URL,
  REDIS_TLS_CA_FILE,
  REDIS_KEY_PREFIX,
  ...trackingTokens,
  PUBLIC_BASE_URL: Type.String({
    // Absolute, no query or fragment: tracking paths are appended to it.
    pattern: '^https?://[^/?#\\s]+(/[^?#\\s]*)?$',
    default: 'http://localhost:8080',
    description:
      'Absolute http(s) address players reach the public API at (the gateway or Ingress); the base of every URL in a VAST tag.',
  }),
  ADMIN_API_KEYS: Type.String({
    default: '',
    // Each key: at least 16 characters that fit a Bearer token (RFC 6750); several allow rotation.
    pattern: '^(\\s*[A-Za-z0-9._~+/-]{16,}=*\\s*(,\\s*[A-Za-z0-9._~+/-]{16,}=*\\s*)*)?$',
    description:
      'Comma-separated API keys accepted by the admin endpoints (Authorization: Bearer <key>), each at least 16 characters of letters, digits and ._~+/- ; empty disables those endpoints (403).',
  }),
})
export type AnalyticsConfig = Type.Static<typeof AnalyticsConfig>
