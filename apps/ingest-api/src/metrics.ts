import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
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
  return { registry, produceSeconds }
}

/** Gauges read at scrape time from the live objects. */
export function registerStateGauges(registry: Registry, catalog: AdCatalog, producer: ClickProducer): void {
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
}
