import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IngestConfig } from '@adtrack/contracts'
import { loadConfig } from '@adtrack/service-runtime'
import { afterEach, beforeEach } from 'vitest'
import type { AdCatalog } from '../ad-catalog.js'
import type { BatchSender, ClickProducerOptions } from '../click-producer.js'
import { createIngest, type Ingest } from '../ingest.js'

// ingest-api as createIngest wires it, with a fake Kafka (the caller's sendBatch) and a real spool in a
// temporary directory of each test's own; nothing listens on the network. For the unit tests of
// durability and load shedding (app.test.ts for clicks, tracking-durability.test.ts for events).

export interface SpoolIngestOptions {
  sender: BatchSender
  catalog: AdCatalog
  /** Adds to the configuration (silent logs, a 2 s write timeout, no rate limit). */
  env?: Record<string, string>
  spoolMaxBytes?: number
  highWaterPercent?: number
  pressureSampleMs?: number
  producer?: Partial<ClickProducerOptions>
}

/**
 * Gives each test a fresh spool directory, and closes the ingests `setup` built (last first) and
 * removes the directory after it (call it at the file's top level).
 */
export function spoolIngests(dirPrefix: string) {
  let dir: string | undefined
  const cleanup: Array<() => Promise<unknown>> = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), dirPrefix))
  })

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const currentDir = () => {
    if (!dir) throw new Error('spoolIngests: the spool directory exists only during a test')
    return dir
  }

  return {
    /** The running test's spool directory. */
    get dir() {
      return currentDir()
    },
    async setup(opts: SpoolIngestOptions): Promise<Ingest> {
      const config = {
        // No rate limit: it would need Redis, and load shedding is what these tests are about.
        ...loadConfig(IngestConfig, {
          LOG_LEVEL: 'silent',
          WRITE_TIMEOUT: '2s',
          RATE_LIMIT_MAX: '0',
          ...opts.env,
        }),
        // Below the schema's minimum, so set after loading: a spool (and a high-water mark) a click can fill.
        SPOOL_DIR: currentDir(),
        SPOOL_MAX_BYTES: opts.spoolMaxBytes ?? 1 << 20,
        SPOOL_HIGH_WATER_PERCENT: opts.highWaterPercent ?? 100,
      }
      const ingest = await createIngest(config, {
        sender: opts.sender,
        catalog: opts.catalog,
        pressureSampleMs: opts.pressureSampleMs,
        producer: {
          lingerMs: 0,
          maxBatch: 100,
          maxInFlight: 1,
          retries: 0,
          minBackoffMs: 1,
          maxBackoffMs: 2,
          halfOpenAfterMs: 60_000,
          ...opts.producer,
        },
      })
      cleanup.push(() => ingest.close())
      return ingest
    },
  }
}
