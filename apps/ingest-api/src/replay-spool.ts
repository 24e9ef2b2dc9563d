#!/usr/bin/env node
import { ReplaySpoolConfig } from '@adtrack/contracts'
import { createLogger, loadConfigOrExit } from '@adtrack/service-runtime'
import { kafkaSecurity } from '@adtrack/service-runtime/kafka'
import { replaySpool } from './spool-replay.js'

// `node dist/replay-spool.js`: empties an ingest-api spool directory into Kafka and exits, 0 once it is
// empty, 1 if anything is left. For a volume no pod mounts any more (a StatefulSet scaled down while
// its pod could not drain): deploy/k8s/replay-spool-job.template.yaml runs it on that volume.
const config = loadConfigOrExit('replay-spool', ReplaySpoolConfig, process.env, kafkaSecurity)
const logger = createLogger('replay-spool', config.LOG_LEVEL)

try {
  const { found, left } = await replaySpool(config, logger)
  if (left > 0) {
    logger.error(
      { dir: config.SPOOL_DIR, found, left },
      'could not empty the spool within REPLAY_TIMEOUT; what is left stays on disk: run this again',
    )
    process.exitCode = 1
  } else {
    logger.info({ dir: config.SPOOL_DIR, replayed: found }, 'spool replayed to Kafka; it is empty')
  }
} catch (err) {
  logger.error({ err }, 'replay-spool failed')
  process.exitCode = 1
}
