import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { AdCatalog } from './ad-catalog.js'
import type { ClickProducer } from './click-producer.js'

export function createRegistry() {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'ingest-api' })
  collectDefaultMetrics({ register: registry })
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
    help: 'Clicks written to the local spool (Kafka could not take them in time, or a backlog was waiting).',
    registers: [registry],
  })
  const replayedClicks = new Counter({
    name: 'spool_replayed_total',
    help: 'Spooled clicks re-sent to Kafka and acknowledged.',
    registers: [registry],
  })
  const refusedClicks = new Counter({
    name: 'clicks_refused_total',
    help: 'Clicks answered 503, by reason: overloaded, queue_full, spool_full or not_durable.',
    labelNames: ['reason'],
    registers: [registry],
  })
  return { registry, produceSeconds, produceErrors, spooledClicks, replayedClicks, refusedClicks }
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
    help: 'Clicks waiting to be sent to Kafka.',
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
    help: 'Clicks in the local spool waiting to be replayed to Kafka.',
    registers: [registry],
    collect() {
      this.set(spool.records)
    },
  })
}
