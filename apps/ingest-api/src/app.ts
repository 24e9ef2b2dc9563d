import type { IngestConfig } from '@adtrack/contracts'
import { parseDuration } from '@adtrack/contracts'
import {
  addProbeRoutes,
  echoRequestId,
  httpMetrics,
  installErrorHandling,
  loggerOptions,
  type Readiness,
  requestIdOptions,
} from '@adtrack/service-runtime'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify from 'fastify'
import type { Registry } from 'prom-client'
import type { AdCatalog } from './ad-catalog.js'
import type { ClickProducer } from './click-producer.js'
import { clickRoutes } from './routes/clicks.js'

export interface IngestDeps {
  catalog: AdCatalog
  producer: ClickProducer
  registry: Registry
  readiness: Readiness
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
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

  installErrorHandling(app)
  echoRequestId(app)
  await app.register(httpMetrics, { registry: deps.registry })
  addProbeRoutes(app, deps.readiness)
  await app.register(clickRoutes, {
    catalog: deps.catalog,
    producer: deps.producer,
    deadlineMs: parseDuration(config.WRITE_TIMEOUT),
  })
  return app
}
