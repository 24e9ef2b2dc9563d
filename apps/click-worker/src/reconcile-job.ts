import type { RedisKeys } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { WorkerMetrics } from './metrics.js'
import { ReconcileBusyError, type ReconcileResult, reconcileCounts } from './reconcile.js'

/**
 * Runs reconciliation on a timer, and soon after Redis comes back as a different server (a restart
 * that may have lost data), so drift is repaired without anybody running the command.
 */
export class ReconcileJob {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined
  private lastRunId: string | undefined

  constructor(
    private readonly deps: {
      sql: Sql
      redis: Redis
      keys: RedisKeys
      topic: string
      logger: Logger
      metrics: WorkerMetrics
    },
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => void this.runOnce(), this.intervalMs)
      this.timer.unref()
    }
    this.deps.redis.on('ready', () => void this.checkRestart())
    void this.checkRestart()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }

  /** One reconciliation; never throws (outcomes are logged and counted). */
  runOnce(): Promise<ReconcileResult | undefined> {
    if (this.running) return this.running as Promise<ReconcileResult | undefined>
    const { logger, metrics } = this.deps
    const run = reconcileCounts(this.deps)
      .then((result) => {
        metrics.reconcileRuns.inc({ outcome: 'ok' })
        metrics.reconcileDrift.reset()
        let total = 0
        for (const d of result.drifted) {
          metrics.reconcileDrift.set({ ad_id: d.adId }, d.drift)
          total += Math.abs(d.drift)
        }
        metrics.reconcileDriftTotal.set(total)
        metrics.reconcileEventDrift.reset()
        let events = 0
        for (const d of result.drifted)
          for (const [event, drift] of Object.entries(d.events)) {
            metrics.reconcileEventDrift.set({ ad_id: d.adId, event }, drift)
            events += Math.abs(drift)
          }
        metrics.reconcileEventDriftTotal.set(events)
        const log = result.drifted.length ? logger.warn.bind(logger) : logger.info.bind(logger)
        log(
          {
            adsChecked: result.adsChecked,
            drifted: result.drifted.slice(0, 50),
            durationMs: result.durationMs,
          },
          'reconciled Redis counts with Postgres',
        )
        return result
      })
      .catch((err) => {
        metrics.reconcileRuns.inc({ outcome: err instanceof ReconcileBusyError ? 'busy' : 'error' })
        if (!(err instanceof ReconcileBusyError)) logger.error({ err }, 'reconciliation failed')
        return undefined
      })
      .finally(() => {
        this.running = undefined
      })
    this.running = run
    return run
  }

  private async checkRestart(): Promise<void> {
    try {
      const info = await this.deps.redis.info('server')
      const runId = /run_id:(\w+)/.exec(info)?.[1]
      if (this.lastRunId && runId && runId !== this.lastRunId) {
        this.deps.logger.warn('Redis restarted; reconciling its counts from Postgres')
        void this.runOnce()
      }
      this.lastRunId = runId ?? this.lastRunId
    } catch {
      // Redis is down: 'ready' fires again when it returns.
    }
  }
}
