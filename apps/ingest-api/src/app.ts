import type { IngestConfig } from '@adtrack/contracts'
import { parseDuration } from '@adtrack/contracts'
import {
  addProbeRoutes,
  echoRequestId,
  HttpError,
  httpMetrics,
  installErrorHandling,
  loggerOptions,
  type Readiness,
  requestIdOptions,
} from '@adtrack/service-runtime'
import { registerApiDocs } from '@adtrack/service-runtime/api-docs'
import { loadTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { trackingCorsOrigin } from '@adtrack/service-runtime/tracking-cors'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import underPressure from '@fastify/under-pressure'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import type { Counter, Registry } from 'prom-client'
import type { AdCatalog } from './ad-catalog.js'
import type { ClickProducer } from './click-producer.js'
import { pressureShedding } from './load-shedding.js'
import { clickRoutes } from './routes/clicks.js'
import { trackingRoutes } from './routes/tracking.js'

export interface IngestDeps {
  catalog: AdCatalog
  producer: ClickProducer
  registry: Registry
  readiness: Readiness
  /** clicks_refused_total{reason} */
  refusedClicks?: Counter<'reason'>
  /** tracking_token_refusals_total{reason} */
  tokenRefusals?: Counter<'reason'>
  /** clicks_accepted_total{route} */
  acceptedClicks?: Counter<'route'>
  /** tracking_events_accepted_total{route,event} */
  acceptedEvents?: Counter<'route' | 'event'>
  /** How often event-loop delay and heap are sampled for load shedding (default 1 s). */
  pressureSampleMs?: number
  /** Shared store of the per-IP rate limit; without it each process counts on its own. */
  rateLimitRedis?: Redis
}

/** Builds the ingest API from its config and dependencies; never listens (server.ts does). */
export async function buildApp(config: IngestConfig, deps: IngestDeps) {
  const trusted = config.TRUSTED_PROXIES.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const app = Fastify({
    logger: loggerOptions('ingest-api', config.LOG_LEVEL),
    ...requestIdOptions,
    trustProxy: trusted.length > 0 ? trusted : false,
    bodyLimit: config.BODY_LIMIT,
    requestTimeout: parseDuration(config.READ_TIMEOUT),
    // NOTE: a wrong-typed field is an error, not something to coerce: "30" is not a playback time.
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Players send JSON under whatever content type is convenient: application/json, text/plain from
  // navigator.sendBeacon, or the form type `curl -d` uses. Every body is parsed as JSON.
  // NOTE: a `__proto__` or `constructor.prototype` key is removed, not refused: like any field a click does
  // not name it is ignored, so a click that carries one still counts (and never reaches an object's prototype).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('remove', 'remove'))

  installErrorHandling(app)
  echoRequestId(app)
  await app.register(httpMetrics, { registry: deps.registry })
  await registerApiDocs(app, {
    title: 'Ad Tracking ingest API',
    description:
      'Where video players report clicks on ads, and the events of VAST ads: tracking pixels, click-throughs and the SDK route.',
    version: '1.0.0',
  })
  addProbeRoutes(app, deps.readiness)
  // Load shedding applies to the click and tracking routes only: probes (and /metrics, on the ops port)
  // always answer.
  await app.register(async (shedding) => {
    await shedding.register(
      underPressure,
      pressureShedding({
        maxEventLoopDelay: parseDuration(config.MAX_EVENT_LOOP_DELAY),
        maxHeapUsedBytes: config.MAX_HEAP_USED_BYTES,
        sampleInterval: deps.pressureSampleMs,
        refusedClicks: deps.refusedClicks,
      }),
    )
    await shedding.register(async (clicks) => {
      if (config.RATE_LIMIT_MAX > 0) {
        // Protects the service, not the counts (that is the worker's invalid-traffic rules): a client over
        // its budget gets 429 with Retry-After. If Redis is unreachable the limit is skipped, never a click.
        await clicks.register(rateLimit, {
          max: config.RATE_LIMIT_MAX,
          timeWindow: parseDuration(config.RATE_LIMIT_WINDOW),
          redis: deps.rateLimitRedis,
          nameSpace: 'ingest-rate-limit:',
          skipOnError: true,
          errorResponseBuilder: (_request, context) => {
            deps.refusedClicks?.inc({ reason: 'rate_limited' })
            return new HttpError(
              429,
              `too many requests from this address (limit ${context.max}); retry in ${context.after}`,
              'RATE_LIMITED',
            )
          },
        })
      }
      await clicks.register(clickRoutes, {
        catalog: deps.catalog,
        producer: deps.producer,
        refused: deps.refusedClicks,
        accepted: deps.acceptedClicks,
        batchMaxClicks: config.BATCH_MAX_CLICKS,
      })
    })
    // NOTE: outside the per-IP rate limit. Pixels are 50-100 times the clicks' traffic and come from the
    // same NAT addresses (a campus, a mobile carrier), so a limit sized for clicks would refuse real
    // viewers' events. What bounds them instead: load shedding above and the producer's queue bound
    // (503 OVERLOADED), a token check that costs one HMAC and never reaches Kafka when it fails, and
    // the worker counting each (impression, event) once, so a replayed token adds no counts.
    await shedding.register(trackingRoutes, {
      prefix: '/track',
      catalog: deps.catalog,
      producer: deps.producer,
      tokens: {
        keys: loadTrackingKeys(config).keys,
        maxAgeMs: parseDuration(config.TRACKING_TOKEN_MAX_AGE),
      },
      corsOrigins: trackingCorsOrigin(config.TRACKING_CORS_ORIGINS),
      refused: deps.refusedClicks,
      tokenRefusals: deps.tokenRefusals,
      acceptedEvents: deps.acceptedEvents,
      batchMaxEvents: config.BATCH_MAX_CLICKS,
    })
  })
  return app
}
