#!/usr/bin/env node
// Rebuilds Redis analytics (clicks and events) from Postgres once and prints the drift per ad.
//   node apps/click-worker/dist/reconcile-cli.js [--dry-run]
// Reads the worker's environment (DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, KAFKA_TOPIC).
import { redisKeys, WorkerConfig } from '@adtrack/contracts'
import { createSql, databaseOptions, databaseTls } from '@adtrack/db'
import { loadConfigOrExit } from '@adtrack/service-runtime'
import { createRedis, redisTls } from '@adtrack/service-runtime/redis'
import { ReconcileBusyError, reconcileCounts } from './reconcile.js'

const dryRun = process.argv.includes('--dry-run')
const config = loadConfigOrExit('reconcile', WorkerConfig, process.env, (c) => {
  databaseTls(c.DATABASE_URL)
  redisTls(c.REDIS_URL, c.REDIS_TLS_CA_FILE)
})
// Two connections at most: one run of a few queries, beside the worker's own pools.
const sql = createSql(config.DATABASE_URL, {
  ...databaseOptions(config, 'reconcile'),
  max: Math.min(2, config.DATABASE_POOL_MAX),
})
const redis = createRedis(config.REDIS_URL, { caFile: config.REDIS_TLS_CA_FILE })
try {
  process.stderr.write(
    `reconciling Redis counts for topic ${config.KAFKA_TOPIC} against Postgres${dryRun ? ' (dry run)' : ''}\n`,
  )
  const result = await reconcileCounts({
    sql,
    redis,
    keys: redisKeys(config.REDIS_KEY_PREFIX),
    topic: config.KAFKA_TOPIC,
    repair: !dryRun,
  })
  if (result.drifted.length === 0) {
    process.stdout.write(`no drift: ${result.adsChecked} ads checked in ${result.durationMs} ms\n`)
  } else {
    process.stdout.write(
      `${'ad_id'.padEnd(24)} ${'postgres'.padStart(10)} ${'redis'.padStart(10)} ${'drift'.padStart(8)}  counters (event drift)\n`,
    )
    for (const d of result.drifted) {
      const events = Object.entries(d.events).map(([event, n]) => `${event} ${n > 0 ? '+' : ''}${n}`)
      process.stdout.write(
        `${d.adId.padEnd(24)} ${String(d.postgres).padStart(10)} ${String(d.redis).padStart(10)} ${String(d.drift).padStart(8)}  ${d.mismatched.join(',')}${events.length ? ` (${events.join(', ')})` : ''}\n`,
      )
    }
    process.stdout.write(
      `${result.drifted.length} of ${result.adsChecked} ads drifted; ${dryRun ? 'nothing changed (dry run)' : 'repaired'} in ${result.durationMs} ms\n`,
    )
    if (dryRun) process.exitCode = 1
  }
} catch (err) {
  process.stderr.write(`reconcile: ${err instanceof ReconcileBusyError ? err.message : String(err)}\n`)
  process.exitCode = 2
} finally {
  await sql.end({ timeout: 5 })
  redis.disconnect()
}
