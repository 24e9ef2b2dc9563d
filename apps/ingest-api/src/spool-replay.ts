import { parseDuration, type ReplaySpoolConfig } from '@adtrack/contracts'
import type { Logger } from 'pino'
import { ClickProducer } from './click-producer.js'
import { connectKafka } from './kafka-connection.js'
import { Spool } from './spool.js'
import { releaseLock } from './spool-lock.js'

export interface SpoolReplayResult {
  /** Records the spool held when it was opened. */
  found: number
  /** Records still on disk at the end (0: the spool is empty). */
  left: number
}

/**
 * Sends what a spool directory holds to Kafka, oldest first, through the same replay loop ingest-api
 * runs (ClickProducer: a segment is deleted only once Kafka acknowledged all of it, so a replay cut off
 * half-way re-sends part of a segment, which the worker counts once by click_id). Takes the directory's
 * lock like ingest-api, so it never runs beside a pod on the same volume. Gives up after REPLAY_TIMEOUT,
 * leaving the rest on disk.
 */
export async function replaySpool(config: ReplaySpoolConfig, logger: Logger): Promise<SpoolReplayResult> {
  // NOTE: a pod killed before it released the lock left its own hostname in it, which no other pod has;
  // only the operator can say no pod mounts the volume any more.
  if (config.REPLAY_BREAK_LOCK) await releaseLock(config.SPOOL_DIR)
  const spool = await Spool.open({ dir: config.SPOOL_DIR, maxBytes: config.SPOOL_MAX_BYTES })
  const found = spool.records
  if (spool.isEmpty) {
    logger.info({ dir: spool.dir }, 'the spool is empty; nothing to replay')
    await spool.close()
    return { found, left: 0 }
  }
  logger.info({ dir: spool.dir, records: found, bytes: spool.bytes }, 'replaying the spool to Kafka')
  const kafka = connectKafka(config, logger)
  const producer = new ClickProducer(kafka.sender, config.KAFKA_TOPIC, {
    lingerMs: 0,
    maxBatch: config.PRODUCE_BATCH_SIZE,
    maxInFlight: config.PRODUCE_MAX_IN_FLIGHT,
    retries: config.KAFKA_SEND_RETRIES,
    breakerThreshold: config.KAFKA_BREAKER_THRESHOLD,
    halfOpenAfterMs: parseDuration(config.KAFKA_BREAKER_HALF_OPEN_AFTER),
    replayTimeoutMs: parseDuration(config.WRITE_TIMEOUT),
    spool,
    logger,
  })
  try {
    await producer.close({ drainMs: parseDuration(config.REPLAY_TIMEOUT) })
  } finally {
    await spool.close()
    await kafka.close()
  }
  return { found, left: spool.records }
}
