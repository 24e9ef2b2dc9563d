import { spawn } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface FuzzTarget {
  /** Names the run in output and report files, e.g. `analytics-api-admin`. */
  label: string
  /** The committed OpenAPI file. */
  schema: string
  /** Where the API under test listens: always a loopback address. */
  baseUrl: string
  headers?: Record<string, string>
  maxExamples: number
  seed: number
  /** Where the log, JUnit and NDJSON reports go. */
  reportDir: string
}

/** One failing test case: the checks it broke (`ST101 Server error`) and what schemathesis printed for it. */
export interface FailedCase {
  operation: string
  checks: string[]
  text: string
  /** The curl commands that reproduce it: one, or a stateful scenario's whole sequence, in order. */
  curls: string[]
}

export interface FuzzResult {
  exitCode: number | null
  /** Test cases schemathesis generated and sent, all phases together. */
  generated: number
  failures: FailedCase[]
  /** Operations schemathesis itself could not test (a schema it cannot read, a crash in the tool). */
  errors: { operation: string; text: string }[]
  durationMs: number
  command: string
  logFile: string
  junitFile: string
  ndjsonFile: string
}

const log = (msg: string) => process.stderr.write(`[fuzz] ${msg}\n`)

/** The rules the API keeps on purpose that its OpenAPI files cannot state, each with why. */
export const CONFIG_FILE = fileURLToPath(new URL('../schemathesis.toml', import.meta.url))

/** The command line of one run; everything that decides which cases are generated is here. */
export function schemathesisArgs(target: FuzzTarget, junitFile: string, ndjsonFile: string): string[] {
  return [
    ...[
      '-m',
      'schemathesis.cli',
      '--config-file',
      CONFIG_FILE,
      'run',
      target.schema,
      '--url',
      target.baseUrl,
    ],
    // Every check: enabled in CONFIG_FILE, beside the few exceptions it states.
    ...['--phases', 'examples,coverage,fuzzing,stateful'],
    ...['--max-examples', String(target.maxExamples), '--seed', String(target.seed)],
    // NOTE: one worker per process. With more, schemathesis generates on threads, and Python 3.11's ast module
    // (which Hypothesis calls to describe strategies) is not thread-safe: runs died at random with
    // "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905).
    ...['--workers', '1'],
    // Every failing case of an operation, not just the first, so one run shows each kind of failure.
    '--continue-on-failure',
    // No example database: a run depends only on the seed, not on what earlier runs stored.
    ...['--generation-database', 'none'],
    ...['--request-timeout', '10'],
    // The admin key is a throwaway for this test: show it, so the printed curl commands work as they stand.
    ...['--output-sanitize', 'false', '--no-color'],
    ...['--report', 'junit,ndjson', '--report-junit-path', junitFile, '--report-ndjson-path', ndjsonFile],
    ...Object.entries(target.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
  ]
}

/** Runs `st run` against one API and collects what it found. */
export async function runSchemathesis(python: string, target: FuzzTarget): Promise<FuzzResult> {
  await mkdir(target.reportDir, { recursive: true })
  const logFile = join(target.reportDir, `${target.label}.log`)
  const junitFile = join(target.reportDir, `${target.label}.junit.xml`)
  const ndjsonFile = join(target.reportDir, `${target.label}.ndjson`)
  await Promise.all([logFile, junitFile, ndjsonFile].map((f) => rm(f, { force: true })))
  const args = schemathesisArgs(target, junitFile, ndjsonFile)
  const command = ['st', ...args.slice(2)].map(shellQuote).join(' ')
  log(`${target.label}: ${command}`)

  const started = Date.now()
  const out = createWriteStream(logFile)
  let stdout = ''
  const child = spawn(python, args, {
    cwd: target.reportDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // Same hash order every run, so the seed alone decides the cases.
      PYTHONHASHSEED: '0',
      // TRICKY: schemathesis may only reach the loopback APIs under test. Anything else it tried (a remote
      // $ref, a Location header pointing elsewhere) would go to this proxy, where nothing listens, and fail.
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      ALL_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost',
    },
  })
  // Live progress: the phase lines as they come, not the failure details (those end the run, and the log).
  let pending = ''
  let details = false
  const onOutput = (chunk: Buffer) => {
    out.write(chunk)
    stdout += chunk.toString()
    const lines = (pending + chunk.toString()).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      if (/={10,} (FAILURES|ERRORS|SUMMARY)/.test(line)) details = true
      if (!details && line.trim()) log(`${target.label}: ${line.trimEnd()}`)
    }
  }
  child.stdout.on('data', onOutput)
  child.stderr.on('data', onOutput)
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', resolve)
  })
  await new Promise((resolve) => out.end(resolve))
  const durationMs = Date.now() - started
  const generated = Number(/(\d+) generated/.exec(stdout)?.[1] ?? 0)
  log(`${target.label}: ${generated} cases in ${(durationMs / 1000).toFixed(1)} s, exit code ${exitCode}`)

  const junit = existsSync(junitFile) ? await readFile(junitFile, 'utf8') : ''
  return { exitCode, generated, ...parseJunit(junit), durationMs, command, logFile, junitFile, ndjsonFile }
}

/** Failures and errors out of schemathesis's JUnit report: one <testcase> per operation. */
export function parseJunit(xml: string): Pick<FuzzResult, 'failures' | 'errors'> {
  const failures: FailedCase[] = []
  const errors: FuzzResult['errors'] = []
  // A passing operation is a self-closing <testcase .../>: the lazy attribute match stops at its "/>".
  for (const testcase of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const operation = unescapeXml(testcase[1] ?? '')
    for (const entry of (testcase[2] ?? '').matchAll(/<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>/g)) {
      const text = unescapeXml(entry[2] ?? '')
      if (entry[1] === 'error') {
        errors.push({ operation, text })
        continue
      }
      // Each failing case starts with "N. Test Case ID: xyz"; its checks are "- ST101 Server error" lines.
      for (const part of text.split(/^(?=\d+\. Test Case ID: )/m)) {
        if (!part.trim()) continue
        const checks = [...part.matchAll(/^- (ST\d+ .+)$/gm)].map((m) => (m[1] ?? '').trim())
        const curls = [...part.matchAll(/^ {4}(curl .+)$/gm)].map((m) => m[1] ?? '')
        failures.push({ operation, checks, text: part.trim(), curls })
      }
    }
  }
  return { failures, errors }
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** Failures grouped by check and operation, each with how many cases showed it and one way to reproduce it. */
export function failureClasses(failures: FailedCase[]): string[] {
  const classes = new Map<string, { cases: number; curls: string[] }>()
  for (const failure of failures) {
    for (const check of failure.checks.length ? failure.checks : ['(no check named)']) {
      const key = `${check} | ${failure.operation}`
      const seen = classes.get(key)
      if (seen) seen.cases++
      else classes.set(key, { cases: 1, curls: failure.curls })
    }
  }
  return [...classes].map(([key, { cases, curls }]) =>
    [`${key} (${cases} case${cases === 1 ? '' : 's'})`, ...curls.map((c) => `    ${c}`)].join('\n'),
  )
}
