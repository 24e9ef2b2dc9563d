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
import { OverviewSource } from './overview-source.js'
import type { PostgresClickCounts } from './postgres-click-counts.js'
import { adminAdRoutes } from './routes/admin-ads.js'
import { adRoutes } from './routes/ads.js'
import { analyticsRoutes } from './routes/analytics.js'
import { dashboardRoutes } from './routes/dashboard.js'
import { dashboardAnalyticsRoutes } from './routes/dashboard-analytics.js'
import { mediaRoutes } from './routes/media.js'
import { vastRoutes } from './routes/vast.js'
import type { SystemTraffic } from './system-traffic.js'

export interface AnalyticsDeps {
  ads: AdStore
  /** Writes for the admin endpoints (POST/PATCH/DELETE /ads). */
  adminAds: AdAdminStore
  /** Live counts in Redis, answered first. */
  counts: ClickCounts
  /** Exact counts in Postgres: time ranges, Redis's fallback, and what Redis no longer keeps. */
  postgresCounts: PostgresClickCounts
  /** The whole system's traffic per minute (GET /analytics/overview). */
  traffic: SystemTraffic
  registry: Registry
  readiness: Readiness
  /**
   * Epoch milliseconds, for the serve time signed into VAST tags and the overview's clock; Date.now unless
   * a test fixes it.
   */
  now?: () => number
  /** The dashboard's static build; DASHBOARD_DIR (routes/dashboard.ts) unless a test gives its own. */
  dashboardDir?: string
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
  const counts = { redis: deps.counts, postgres: deps.postgresCounts }
  await app.register(analyticsRoutes, { ads: deps.ads, counts })
  const now = deps.now ?? Date.now
  await app.register(dashboardAnalyticsRoutes, {
    ads: deps.ads,
    counts,
    overview: new OverviewSource(deps.traffic, counts, now, app.log),
    now,
  })
  await app.register(dashboardRoutes, { prefix: '/dashboard', dir: deps.dashboardDir })
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
