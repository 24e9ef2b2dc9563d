import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { xmlProblems } from './well-formed.js'

// npm run bench as a user runs it, with tiny settings: the built CLI in a process of its own, which starts
// its own stack and services (not the tests' shared stack). Checks what it writes, never how fast anything
// was: the figures depend on the machine.
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const cli = join(root, 'tools/bench/dist/cli.js')

let child: ChildProcess | undefined
let out: string | undefined

afterAll(async () => {
  // A test that timed out leaves the bench running: SIGINT makes it stop its services and stack.
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    const timer = setTimeout(() => child?.kill('SIGKILL'), 30_000)
    await exited
    clearTimeout(timer)
  }
  if (out) await rm(out, { recursive: true, force: true })
})

interface Step {
  rate: number
  pass: boolean
  acknowledged: number
  delivered: number
}
interface Search {
  target: number
  best: { rate: number } | null
  steps: Step[]
}
interface VastRun {
  statuses: Record<string, number>
  clicksAcknowledged: number
  vast: { byEvent: Record<string, { acknowledged: number }> }
}
interface Report {
  rows: { measure: string; result: string; met: string }[]
  results: {
    drain: { clicks: number; drained: number }
    endToEnd: { single: Search; batched: Search }
    events: {
      ceiling: { ingest: VastRun; bare: VastRun; stored: boolean }
      endToEnd: { acknowledged: number; delivered: number; summary: VastRun }
    }
  }
  timeline: { phases: { name: string }[]; samples: { phase: string }[] }
}

describe('npm run bench', () => {
  it('runs with tiny settings and writes the table, every raw figure and the chart', {
    timeout: 300_000,
  }, async () => {
    expect(existsSync(cli), `${cli} is missing: build the workspace first`).toBe(true)
    out = await mkdtemp(join(tmpdir(), 'adtrack-bench-test-'))
    // NOTE: single clicks are offered at a million a second, which 4 connections cannot carry on any
    // machine, so that the rate search certainly runs (one step); batches at a rate any machine carries.
    const args = [
      ...['--seconds', '1', '--drain-clicks', '300', '--ceiling-connections', '4', '--connections', '4'],
      ...['--e2e-rate', '1000000', '--batch-rate', '500', '--batch-size', '10', '--read-rate', '5'],
      ...['--search-steps', '1', '--search-seconds', '1', '--events-seconds', '1', '--out', out],
    ]
    const bench = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    child = bench
    let output = ''
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000)
    }
    bench.stdout.on('data', collect)
    bench.stderr.on('data', collect)
    const [code] = await once(bench, 'exit')
    expect(code, output).toBe(0)

    const files = readdirSync(out)
    const stamped = (ext: string) => files.filter((f) => /^bench-.+/.test(f) && f.endsWith(ext))
    expect(stamped('.json')).toHaveLength(1)
    expect(stamped('.md')).toHaveLength(1)
    expect(stamped('.svg')).toHaveLength(1)
    expect(files).toEqual(expect.arrayContaining(['latest.md', 'latest.svg']))

    const report = JSON.parse(readFileSync(join(out, stamped('.json')[0] as string), 'utf8')) as Report
    const measures = report.rows.map((r) => r.measure)
    for (const expected of [
      '(c) worker drain, 300 clicks',
      '(a) ingest ceiling, single clicks, 4 conns',
      '(b) end to end, single, offered 1,000,000/s',
      '(b) highest sustained rate, single',
      '(b) end to end, batch of 10, offered 500/s',
      '(b) highest sustained rate, batch of 10',
      '(d) GET /ads/analytics at 5/s during ingest',
      '(d) GET /ads/top at 5/s during ingest',
      '(e) peak RSS ingest-api',
      '(e) peak RSS click-worker',
      '(e) peak RSS analytics-api',
      '(f) pixel GET ceiling, 4 conns',
      '(f) events end to end, flat out, 4 conns',
    ])
      expect(
        measures.some((m) => m.startsWith(expected)),
        `${expected} in\n${measures.join('\n')}`,
      ).toBe(true)

    // Every click put on the topic was stored, and every acknowledged click became visible, in every step.
    expect(report.results.drain.drained).toBe(report.results.drain.clicks)
    const { single, batched } = report.results.endToEnd
    for (const step of [...single.steps, ...batched.steps]) {
      expect(step.acknowledged).toBeGreaterThan(0)
      expect(step.delivered).toBe(step.acknowledged)
    }
    // (f): the pixels ingest-api acknowledged while the worker was paused were all stored once it resumed,
    // and every (impression, event) acknowledged end to end was stored; each run played whole impressions
    // whose pixels the services took (no refusal), and the bare server answered every one.
    const { events } = report.results
    expect(events.ceiling.stored).toBe(true)
    expect(events.endToEnd.acknowledged).toBeGreaterThan(0)
    expect(events.endToEnd.delivered).toBe(events.endToEnd.acknowledged)
    expect(events.endToEnd.summary.clicksAcknowledged).toBe(events.endToEnd.acknowledged)
    for (const run of [events.ceiling.ingest, events.ceiling.bare, events.endToEnd.summary]) {
      expect(run.statuses['pixel 200']).toBeGreaterThan(0)
      for (const status of Object.keys(run.statuses))
        expect(['pixel 200', 'clickthrough 302']).toContain(status)
      expect(run.vast.byEvent.impression?.acknowledged).toBeGreaterThan(0)
      expect(run.vast.byEvent.start?.acknowledged).toBeGreaterThan(0)
    }

    // The target was not sustained, so the search tried one lower rate.
    expect(single.steps.map((s) => s.pass)[0]).toBe(false)
    expect(single.steps).toHaveLength(2)
    expect(single.steps[1]?.rate).toBeLessThan(single.target)

    const md = readFileSync(join(out, stamped('.md')[0] as string), 'utf8')
    expect(md).toContain('| measure')
    expect(md).toContain(`](${stamped('.svg')[0]})`)
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toBe(md)

    const svg = readFileSync(join(out, stamped('.svg')[0] as string), 'utf8')
    expect(xmlProblems(svg)).toEqual([])
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toBe(svg)
    for (const series of ['ackedPerSecond', 'storedPerSecond', 'p50Ms', 'p99Ms', 'deliveryP99Ms', 'backlog'])
      expect(svg, series).toContain(`data-series="${series}"`)
    for (const phase of report.timeline.phases) expect(svg).toContain(`data-phase="${phase.name}"`)
    expect(report.timeline.phases.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        '(c) worker drain',
        '(a) ingest-api 4 conns',
        '(a) bare Fastify 4 conns',
        '(b) single at 1,000,000/s + (d) reads',
        '(b) batches of 10 at 500/s',
        '(f) ingest-api pixels 4 conns',
        '(f) bare Fastify GET 4 conns',
        '(f) events end to end 4 conns',
      ]),
    )
  })
})
