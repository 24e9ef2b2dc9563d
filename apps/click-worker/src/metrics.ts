import { registerRuntimeMetrics } from '@adtrack/service-runtime'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export function createWorkerMetrics() {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'click-worker' })
  registerRuntimeMetrics(registry)
  const storeErrors = new Counter({
    name: 'worker_store_errors_total',
    help: 'Failed operations of a partition batch, by store: postgres, redis, or kafka (the dead-letter topic); a record a store refused for its content counts once per delivery.',
    labelNames: ['store'],
    registers: [registry],
  })
  // Exported at zero from the start, so that rate() and alerts see the series before the first failure.
  for (const store of ['postgres', 'redis', 'kafka']) storeErrors.inc({ store }, 0)
  const events = new Counter({
    name: 'worker_events_total',
    help: 'Event records (version 2) processed, by event type and outcome: counted (valid), invalid (a bot; for click, any invalid-traffic reason), duplicate ((impression, event) already owned by another record), refused (a store refused it for its content; dead-lettered). A click event is counted in worker_clicks_total as well.',
    labelNames: ['type', 'outcome'],
    registers: [registry],
  })
  // The DeadLetters alert reads outcome="refused": present at zero before the first event.
  for (const outcome of ['counted', 'invalid', 'duplicate', 'refused'])
    events.inc({ type: 'impression', outcome }, 0)
  const reconcileRuns = new Counter({
    name: 'reconcile_runs_total',
    help: 'Reconciliation runs, by outcome: ok, busy (another run held the lock), error.',
    labelNames: ['outcome'],
    registers: [registry],
  })
  // ReconciliationFailing reads outcome="error" long before the first run (RECONCILE_INTERVAL, 10 min).
  for (const outcome of ['ok', 'busy', 'error']) reconcileRuns.inc({ outcome }, 0)
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
      help: 'Clicks processed (version 1 records and click events), by result: counted (valid), invalid (invalid traffic, stored with a reason), duplicate (click id already owned), refused (a click a store refused for its content; dead-lettered); and rejected: records of any kind that are neither a valid click nor a valid event message (dead-lettered).',
      labelNames: ['result'],
      registers: [registry],
    }),
    events,
    invalidClicks: new Counter({
      name: 'worker_invalid_clicks_total',
      help: 'Clicks stored as invalid traffic and left out of click_count, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    batchFailures: new Counter({
      name: 'worker_batch_failures_total',
      help: 'Partition batches that failed and will be redelivered.',
      registers: [registry],
    }),
    storeErrors,
    partitionLag: new Gauge({
      name: 'worker_partition_lag',
      help: 'Records of a partition after the last batch this worker processed (high watermark minus that batch).',
      labelNames: ['partition'],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'worker_stores_breaker_state',
      help: 'Circuit breaker around Postgres and Redis: 0 closed, 1 half-open, 2 open.',
      registers: [registry],
    }),
    endToEndSeconds: new Histogram({
      name: 'click_end_to_end_delay_seconds',
      help: 'From Kafka append time of the newest record in a batch to its counts being visible in Redis.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    reconcileRuns,
    reconcileDrift: new Gauge({
      name: 'reconcile_drift_clicks',
      help: 'Redis minus Postgres click count per ad found by the last reconciliation (before repair).',
      labelNames: ['ad_id'],
      registers: [registry],
    }),
    reconcileDriftTotal: new Gauge({
      name: 'reconcile_drift_clicks_total_abs',
      help: 'Sum over ads of |Redis - Postgres| clicks found by the last reconciliation.',
      registers: [registry],
    }),
    reconcileEventDrift: new Gauge({
      name: 'reconcile_drift_events',
      help: 'Redis minus Postgres valid events per ad and event type found by the last reconciliation (before repair); only the pairs that differed.',
      labelNames: ['ad_id', 'event'],
      registers: [registry],
    }),
    reconcileEventDriftTotal: new Gauge({
      name: 'reconcile_drift_events_total_abs',
      help: 'Sum over ads and event types of |Redis - Postgres| valid events found by the last reconciliation.',
      registers: [registry],
    }),
  }
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>

/**
 * Drops worker_partition_lag for every partition this worker no longer holds. A revoked partition's last
 * value would otherwise stay exported for ever: stale, and counted twice in sum() once its new owner
 * reports it too. kafkajs has no revoke event; GROUP_JOIN, after every rebalance, carries the assignment.
 */
export async function keepPartitionLag(
  gauge: WorkerMetrics['partitionLag'],
  assigned: Iterable<number>,
): Promise<void> {
  const keep = new Set([...assigned].map(String))
  for (const { labels } of (await gauge.get()).values) {
    const partition = String(labels.partition)
    if (!keep.has(partition)) gauge.remove({ partition })
  }
}
