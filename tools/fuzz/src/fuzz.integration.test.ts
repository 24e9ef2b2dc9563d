import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seedDemoAds } from '@adtrack/db'
import {
  createTestDatabase,
  type RunningService,
  stack,
  startService,
  uniqueName,
  waitFor,
} from '@adtrack/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSchemathesis } from './install.js'
import { type FuzzResult, type FuzzTarget, failureClasses, runSchemathesis } from './run-schemathesis.js'

// schemathesis against the two APIs as they run in production: built services, real Kafka, PostgreSQL and
// Redis, the demo ads seeded so that generated ids can exist. Whatever it sends, an API must answer with a
// status and body its committed OpenAPI description allows, and never with a 5xx.
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const reportDir = join(repoRoot, 'test-results', 'fuzz')
// Fixed, so that a failure reproduces: FUZZ_SEED=<seed> npm test -- tools/fuzz. The examples, coverage and
// fuzzing phases then send the same cases every run; the stateful phase also feeds on what the API answered
// (ids the server assigned, the clock), so its cases can differ between runs. Each failure prints its curl.
const seed = Number(process.env.FUZZ_SEED ?? 20261130)
// A throwaway key, shown in the printed curl commands so they reproduce as they stand.
const adminKey = 'fuzz-admin-key-0000000001'
// Per operation and phase. Sized so that each run generates over 1,000 cases and the three runs together
// stay near 4 minutes on two cores (ingest-api has 2 operations, analytics-api 8).
const maxExamples = (fallback: number) => Number(process.env.FUZZ_MAX_EXAMPLES ?? fallback)

let ingestDb: Awaited<ReturnType<typeof createTestDatabase>>
let analyticsDb: Awaited<ReturnType<typeof createTestDatabase>>
let ingest: RunningService
let worker: RunningService
let analytics: RunningService
let python: string

beforeAll(async () => {
  process.stderr.write(`[fuzz] seed ${seed}; reports in ${reportDir}\n`)
  python = await ensureSchemathesis()
  // Each API its own database: the admin run creates, changes and archives ads, which must not change what
  // ingest-api's catalogue holds while it is fuzzed.
  ;[ingestDb, analyticsDb] = await Promise.all([createTestDatabase(), createTestDatabase()])
  await Promise.all([seedDemoAds(ingestDb.sql), seedDemoAds(analyticsDb.sql)])
  const env = {
    REDIS_URL: stack().redisUrl,
    KAFKA_BROKERS: stack().kafkaBrokers.join(','),
    KAFKA_TOPIC: uniqueName('fuzz_clicks'),
    KAFKA_TOPIC_PARTITIONS: '2',
    REDIS_KEY_PREFIX: `${uniqueName('fuzz')}:`,
    // Only errors (a 5xx's stack), which the service log written beside the reports then holds.
    LOG_LEVEL: 'error',
  }
  ;[ingest, worker, analytics] = await Promise.all([
    // No rate limit: thousands of requests from one address are the point here.
    startService('ingest-api', { ...env, DATABASE_URL: ingestDb.url, RATE_LIMIT_MAX: '0' }),
    // Counts what ingest-api accepted, so that a click it let through but cannot store shows up below.
    startService('click-worker', { ...env, DATABASE_URL: ingestDb.url, KAFKA_GROUP_ID: uniqueName('fuzz') }),
    startService('analytics-api', { ...env, DATABASE_URL: analyticsDb.url, ADMIN_API_KEYS: adminKey }),
  ])
}, 300_000)

afterAll(async () => {
  // The services' own logs: a 5xx's stack trace is there, not in schemathesis's output.
  await Promise.all(
    [ingest, worker, analytics]
      .filter(Boolean)
      .map((s) => writeFile(join(reportDir, `${s.name}.service.log`), s.output()).catch(() => undefined)),
  )
  await Promise.all([ingest, worker, analytics].filter(Boolean).map((s) => s.stop()))
  await Promise.all([ingestDb, analyticsDb].filter(Boolean).map((db) => db.drop()))
})

function target(label: string, api: 'ingest-api' | 'analytics-api', rest: Partial<FuzzTarget>): FuzzTarget {
  return {
    label,
    schema: join(repoRoot, 'openapi', `${api}.json`),
    baseUrl: (api === 'ingest-api' ? ingest : analytics).httpUrl,
    seed,
    reportDir,
    maxExamples: 100,
    ...rest,
  }
}

/** What a reader needs when the run fails: each kind of failure once, with a curl that reproduces it. */
function explain(result: FuzzResult): string {
  const classes = failureClasses(result.failures)
  return [
    `schemathesis found ${result.failures.length} failing case(s) in ${classes.length} class(es) and ` +
      `${result.errors.length} error(s); seed ${seed}`,
    `  run again: FUZZ_SEED=${seed} npm test -- tools/fuzz`,
    `  the command: ${result.command}`,
    `  full output: ${result.logFile}; reports: ${result.junitFile}, ${result.ndjsonFile}`,
    '',
    ...classes.map((c) => `- ${c}`),
    ...result.errors.map((e) => `- ERROR in ${e.operation}:\n${e.text.slice(0, 2000)}`),
  ].join('\n')
}

function expectClean(result: FuzzResult) {
  const report = explain(result)
  expect(result.errors.length, report).toBe(0)
  expect(result.failures.length, report).toBe(0)
  expect(result.exitCode, report).toBe(0)
  expect(result.generated, 'too few cases generated').toBeGreaterThanOrEqual(1000)
}

// NOTE: the runs go one after another, in this order: the run without the key sees the demo ads untouched;
// the admin run then creates, changes and archives ads as it goes.
describe('fuzzing with schemathesis', () => {
  it('ingest-api answers every request as described, never with a 5xx', async () => {
    expectClean(
      await runSchemathesis(python, target('ingest-api', 'ingest-api', { maxExamples: maxExamples(250) })),
    )
  }, 240_000)

  it('the click-worker still counts every ad after the ingest-api run', async () => {
    // One click per demo ad covers every partition: a record the worker cannot store, stuck at the head of
    // one, would hold back that partition's clicks, which is how one request would stop the counting.
    const sent = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const clickId = uniqueName(`after_fuzz_${i + 1}`)
        const res = await fetch(`${ingest.httpUrl}/ads/click`, {
          method: 'POST',
          body: JSON.stringify({ ad_id: String(i + 1), playback_time: 1, click_id: clickId }),
        })
        expect(res.status).toBe(202)
        return clickId
      }),
    )
    const stored = async () => {
      const rows = await ingestDb.sql<
        { click_id: string }[]
      >`select click_id from clicks where click_id in ${ingestDb.sql(sent)}`
      return rows.length
    }
    try {
      await waitFor(async () => ((await stored()) === sent.length ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the clicks sent after the fuzz run to be stored',
      })
    } catch (err) {
      throw new Error(
        `${(err as Error).message}: ${await stored()} of ${sent.length} stored; worker ` +
          `${worker.process.exitCode === null ? 'running' : `exited with ${worker.process.exitCode}`}\n` +
          `--- click-worker output ---\n${worker.output().slice(-4000)}`,
      )
    }
  }, 90_000)

  it('analytics-api without the admin key', async () => {
    expectClean(
      await runSchemathesis(
        python,
        target('analytics-api-anonymous', 'analytics-api', { maxExamples: maxExamples(100) }),
      ),
    )
  }, 240_000)

  it('analytics-api with the admin key', async () => {
    expectClean(
      await runSchemathesis(
        python,
        target('analytics-api-admin', 'analytics-api', {
          // More than the anonymous run: how many cases the stateful phase adds here depends on the ids and
          // times the API answers (1,176 to 1,984 seen at 100), and the run must stay above 1,000.
          maxExamples: maxExamples(150),
          headers: { Authorization: `Bearer ${adminKey}` },
        }),
      ),
    )
  }, 240_000)
})
