import { registerRuntimeMetrics } from '@adtrack/service-runtime'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AdCatalog } from './ad-catalog.js'
import type { ClickProducer } from './click-producer.js'
import { TOKEN_REFUSAL_LABELS } from './tracking-message.js'

/** The routes that accept clicks (version 1 records), as Fastify names them: clicks_accepted_total{route}. */
export const CLICK_ROUTES = ['/ads/click', '/ads/clicks'] as const
/** The routes that accept tracking events: tracking_events_accepted_total{route}. */
export const TRACKING_ROUTES = [
  '/track/:ad_id/:event',
  '/track/:ad_id/clickthrough',
  '/track/events',
] as const

/** clicks_refused_total's reasons: the 503s (load shedding, the producer's refusals) and the 429. */
export const REFUSAL_REASONS = [
  'overloaded',
  'queue_full',
  'spool_full',
  'not_durable',
  'rate_limited',
] as const

export function createRegistry() {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'ingest-api' })
  registerRuntimeMetrics(registry)
  const produceSeconds = new Histogram({
    name: 'kafka_produce_duration_seconds',
    help: 'Time for one batch of clicks to be acknowledged by Kafka, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const produceErrors = new Counter({
    name: 'kafka_produce_errors_total',
    help: 'Failed attempts to send a batch of clicks to Kafka (errors and timeouts; each retry counts).',
    registers: [registry],
  })
  const spooledClicks = new Counter({
    name: 'spool_appended_total',
    help: 'Clicks and tracking events written to the local spool (Kafka could not take them in time, or a backlog was waiting).',
    registers: [registry],
  })
  const replayedClicks = new Counter({
    name: 'spool_replayed_total',
    help: 'Spooled clicks and tracking events re-sent to Kafka and acknowledged.',
    registers: [registry],
  })
  const refusedClicks = new Counter({
    name: 'clicks_refused_total',
    help: 'Clicks and tracking events answered 503, by reason: overloaded, queue_full, spool_full, not_durable or rate_limited (429).',
    labelNames: ['reason'],
    registers: [registry],
  })
  const tokenRefusals = new Counter({
    name: 'tracking_token_refusals_total',
    help: "Tracking events (pixels, click-throughs, SDK items) not recorded because their impression token was refused, by reason: missing or one of verifyImpression's.",
    labelNames: ['reason'],
    registers: [registry],
  })
  // Every reason present from the start, at zero: a rate() over a series that appears late misses its first hits.
  for (const reason of TOKEN_REFUSAL_LABELS) tokenRefusals.inc({ reason }, 0)
  for (const reason of REFUSAL_REASONS) refusedClicks.inc({ reason }, 0)
  // NOTE: what was accepted is counted here, not read from http_requests_total: a 200 of POST /ads/clicks
  // or /track/events carries anything from 0 to BATCH_MAX_CLICKS accepted items, and a pixel's 200 is also
  // answered for a refused token. The alerts and the dashboard read these two.
  const acceptedClicks = new Counter({
    name: 'clicks_accepted_total',
    help: 'Clicks made durable (Kafka acknowledged, or fsynced in the spool) and acknowledged to the client, by route: /ads/click (one per 202) or /ads/clicks (one per accepted item).',
    labelNames: ['route'],
    registers: [registry],
  })
  for (const route of CLICK_ROUTES) acceptedClicks.inc({ route }, 0)
  const acceptedEvents = new Counter({
    name: 'tracking_events_accepted_total',
    help: 'Tracking events (version 2 records) made durable and acknowledged, by route (the pixel, the click-through, the SDK route) and event: impressions, playback events, errors and clicks of impressions.',
    labelNames: ['route', 'event'],
    registers: [registry],
  })
  for (const route of TRACKING_ROUTES) acceptedEvents.inc({ route, event: 'impression' }, 0)
  return {
    registry,
    produceSeconds,
    produceErrors,
    spooledClicks,
    replayedClicks,
    refusedClicks,
    tokenRefusals,
    acceptedClicks,
    acceptedEvents,
  }
}

/** Gauges read at scrape time from the live objects. */
export function registerStateGauges(
  registry: Registry,
  catalog: AdCatalog,
  producer: ClickProducer,
  spool?: { bytes: number; records: number },
): void {
  new Gauge({
    name: 'ad_catalog_size',
    help: 'Active ads in the in-memory catalogue.',
    registers: [registry],
    collect() {
      this.set(catalog.size)
    },
  })
  new Gauge({
    name: 'ad_catalog_age_seconds',
    help: 'Seconds since the ad catalogue was last reloaded from Postgres.',
    registers: [registry],
    collect() {
      this.set(Number.isFinite(catalog.age) ? catalog.age / 1000 : -1)
    },
  })
  new Gauge({
    name: 'click_produce_queue_length',
    help: 'Clicks and tracking events waiting to be sent to Kafka.',
    registers: [registry],
    collect() {
      this.set(producer.waiting)
    },
  })
  new Gauge({
    name: 'kafka_breaker_state',
    help: 'Circuit breaker around Kafka sends: 0 closed, 1 half-open, 2 open.',
    registers: [registry],
    collect() {
      this.set(producer.breakerState)
    },
  })
  if (!spool) return
  new Gauge({
    name: 'spool_bytes',
    help: 'Bytes in the local spool waiting to be replayed to Kafka.',
    registers: [registry],
    collect() {
      this.set(spool.bytes)
    },
  })
  new Gauge({
    name: 'spool_records',
    help: 'Clicks and tracking events in the local spool waiting to be replayed to Kafka.',
    registers: [registry],
    collect() {
      this.set(spool.records)
    },
  })
}
