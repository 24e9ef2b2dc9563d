import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

export function createWorkerMetrics() {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'click-worker' })
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    batchSize: new Histogram({
      name: 'worker_batch_size',
      help: 'Records per processed partition batch.',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'worker_batch_duration_seconds',
      help: 'Time to write one partition batch to Postgres and Redis.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    clicks: new Counter({
      name: 'worker_clicks_total',
      help: 'Records processed, by result: counted, duplicate (click id already owned), rejected (invalid).',
      labelNames: ['result'],
      registers: [registry],
    }),
    batchFailures: new Counter({
      name: 'worker_batch_failures_total',
      help: 'Partition batches that failed and will be redelivered.',
      registers: [registry],
    }),
  }
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>
