import type { AnalyticsConfig } from '@adtrack/contracts'
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
import { registerApiDocs } from '@adtrack/service-runtime/api-docs'
import { loadTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { trackingCorsOrigin } from '@adtrack/service-runtime/tracking-cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify from 'fastify'
import type { Registry } from 'prom-client'
import type { AdAdminStore } from './ad-admin-store.js'
import type { AdStore } from './ad-store.js'
import { ADMIN_SECURITY_SCHEME, AdminKeys } from './admin-auth.js'
import type { ClickCounts } from './click-counts.js'
import type { PostgresClickCounts } from './postgres-click-counts.js'
import { adminAdRoutes } from './routes/admin-ads.js'
import { adRoutes } from './routes/ads.js'
import { analyticsRoutes } from './routes/analytics.js'
import { mediaRoutes } from './routes/media.js'
import { vastRoutes } from './routes/vast.js'

export interface AnalyticsDeps {
  ads: AdStore
  /** Writes for the admin endpoints (POST/PATCH/DELETE /ads). */
  adminAds: AdAdminStore
  /** Live counts in Redis, answered first. */
  counts: ClickCounts
  /** Exact counts in Postgres: time ranges, Redis's fallback, and what Redis no longer keeps. */
  postgresCounts: PostgresClickCounts
  registry: Registry
  readiness: Readiness
  /** Epoch milliseconds, for the serve time signed into VAST tags; Date.now unless a test fixes it. */
  now?: () => number
}

const ANALYTICS_API_DOCS = {
  title: 'Ad Tracking analytics API',
  description:
    "Ads and their click analytics, read by advertisers' dashboards (public), the ads' VAST tags, read by video players (public), and ads management (admin API key).",
  version: '1.0.0',
  securitySchemes: {
    [ADMIN_SECURITY_SCHEME]: {
      type: 'http' as const,
      scheme: 'bearer',
      description: 'One of the keys in ADMIN_API_KEYS: `Authorization: Bearer <key>`.',
    },
  },
}

/** Builds the analytics API from its config and dependencies; never listens (server.ts does). */
export async function buildApp(config: AnalyticsConfig, deps: AnalyticsDeps) {
  const app = Fastify({
    logger: loggerOptions('analytics-api', config.LOG_LEVEL),
    ...requestIdOptions,
    requestTimeout: parseDuration(config.READ_TIMEOUT),
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  echoRequestId(app)
  await app.register(httpMetrics, { registry: deps.registry })
  await registerApiDocs(app, ANALYTICS_API_DOCS)
  addProbeRoutes(app, deps.readiness)
  await app.register(adRoutes, { ads: deps.ads })
  await app.register(analyticsRoutes, {
    ads: deps.ads,
    counts: { redis: deps.counts, postgres: deps.postgresCounts },
  })
  await app.register(mediaRoutes)
  await app.register(vastRoutes, {
    ads: deps.ads,
    keys: loadTrackingKeys(config).keys,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    corsOrigin: trackingCorsOrigin(config.TRACKING_CORS_ORIGINS),
    now: deps.now,
  })
  await app.register(adminAdRoutes, { store: deps.adminAds, keys: AdminKeys.parse(config.ADMIN_API_KEYS) })
  return app
}
