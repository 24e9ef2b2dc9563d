#!/usr/bin/env node
// Entry point of `npm start`, `npm test`, `npm run loadgen`, `npm run bench` and `npm run screenshots`.
//
// NOTE: this file runs under whatever Node the machine has (Debian's may be 20, past end of life), so it is
// plain JavaScript with no dependencies. Its job is to provide the toolchain the project targets (Node 24
// LTS and the pnpm pinned in package.json), install and build the workspace, then hand over to code that
// runs under Node 24. Tools are cached per user, outside the checkout, so a fresh clone reuses them.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const NODE_VERSION = '24.21.0'
const root = dirname(dirname(fileURLToPath(import.meta.url)))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const PNPM_VERSION = pkg.packageManager.replace(/^pnpm@/, '')
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ad-tracking')

const say = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`)
const fail = (msg) => {
  say(`error: ${msg}`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (res.error) fail(`${cmd} could not start: ${res.error.message}`)
  if (res.status !== 0) fail(`\`${[cmd, ...args].join(' ')}\` exited with ${res.status ?? res.signal}`)
}

/** An npm package installed once into the per-user cache; returns its folder. */
function cachedPackage(name, version) {
  const prefix = join(cacheDir, `${name}-${version}`)
  const dir = join(prefix, 'node_modules', name)
  if (!existsSync(join(dir, 'package.json'))) {
    say(`installing ${name}@${version} into ${prefix}`)
    mkdirSync(prefix, { recursive: true })
    run('npm', [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `${name}@${version}`,
    ])
  }
  return dir
}

function provideNode() {
  const major = Number(process.versions.node.split('.')[0])
  if (major >= 24) return process.execPath
  // The npm registry carries Node's official Linux builds as node-linux-<arch> packages.
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    fail(
      `Node ${process.versions.node} is too old and no Node 24 build can be fetched for ${process.platform}-${process.arch}; install Node 24 LTS`,
    )
  }
  say(`machine Node is ${process.versions.node}; using Node ${NODE_VERSION} from the npm registry`)
  return join(cachedPackage(`node-linux-${process.arch}`, NODE_VERSION), 'bin', 'node')
}

const nodeBin = provideNode()
const pnpmJs = join(cachedPackage('pnpm', PNPM_VERSION), 'bin', 'pnpm.cjs')
// turbo looks for a `pnpm` executable on PATH; give it one that runs the pinned pnpm under Node 24.
const shimDir = join(cacheDir, `bin-${NODE_VERSION}-${PNPM_VERSION}`)
if (!existsSync(join(shimDir, 'pnpm'))) {
  mkdirSync(shimDir, { recursive: true })
  writeFileSync(join(shimDir, 'pnpm'), `#!/bin/sh\nexec "${nodeBin}" "${pnpmJs}" "$@"\n`)
  chmodSync(join(shimDir, 'pnpm'), 0o755)
}
// Every child (pnpm, turbo, vitest, the services) finds Node 24 and pnpm first on PATH.
const env = {
  ...process.env,
  PATH: `${shimDir}:${dirname(nodeBin)}:${process.env.PATH}`,
  TURBO_TELEMETRY_DISABLED: '1',
}
const pnpm = (args) => run(nodeBin, [pnpmJs, ...args], { env })

const [command = 'start', ...rest] = process.argv.slice(2)
if (!['start', 'test', 'stack', 'setup', 'loadgen', 'bench', 'screenshots'].includes(command))
  fail(`unknown command ${command}; use start, test, stack, setup, loadgen, bench or screenshots`)

say('installing dependencies (pnpm install --frozen-lockfile)')
pnpm(['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'])
say('building (turbo run build)')
pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'])

if (command === 'setup') process.exit(0)

if (command === 'screenshots') {
  // The dashboard's browser test takes a screenshot of each view (test-results/dashboard/); with this
  // variable it also writes the overview's to docs/dashboard.png, the README's picture.
  say('dashboard screenshots (vitest, tools/dashboard-test)')
  const res = spawnSync(
    nodeBin,
    [pnpmJs, 'exec', 'vitest', 'run', '--project', 'integration', 'tools/dashboard-test', ...rest],
    { stdio: 'inherit', cwd: root, env: { ...env, UPDATE_README_SCREENSHOT: '1' } },
  )
  if (res.status === 0) say('wrote docs/dashboard.png and test-results/dashboard/*.png')
  process.exit(res.status ?? 1)
}

if (command === 'test') {
  say('lint and typecheck')
  pnpm(['exec', 'biome', 'check', '.'])
  pnpm(['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'])
  // With no arguments: unit and integration tests, then the fault suite on its own, since it kills and
  // restarts real processes and should not share the two cores with the integration tests.
  const runs = rest.length
    ? [{ label: 'tests', args: rest }]
    : [
        { label: 'unit and integration tests', args: ['--project', 'unit', '--project', 'integration'] },
        { label: 'fault suite', args: ['--project', 'faults'] },
      ]
  const totals = { passed: 0, failed: 0, skipped: 0 }
  let status = 0
  for (const [i, { label, args }] of runs.entries()) {
    say(`${label} (vitest)`)
    const resultsFile = join(root, 'test-results', `vitest-${i}.json`)
    rmSync(resultsFile, { force: true })
    const res = spawnSync(
      nodeBin,
      [
        pnpmJs,
        'exec',
        'vitest',
        'run',
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${resultsFile}`,
        ...args,
      ],
      { stdio: 'inherit', cwd: root, env },
    )
    if (res.status !== 0) status = res.status ?? 1
    addResults(resultsFile, totals)
  }
  // One plain closing line for whoever reads the end of the log.
  process.stdout.write(
    `vitest: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`,
  )
  process.exit(status)
}

// start and stack hand over to the local stack's CLI, which runs until Ctrl-C; loadgen and bench to the
// load generator's and the benchmark's, which stop by themselves.
const entry = {
  start: ['tools/local-stack/dist/cli.js', 'up'],
  stack: ['tools/local-stack/dist/cli.js'],
  loadgen: ['tools/loadgen/dist/cli.js'],
  bench: ['tools/bench/dist/cli.js'],
}[command]
const child = spawn(nodeBin, [join(root, entry[0]), ...entry.slice(1), ...rest], {
  stdio: 'inherit',
  cwd: root,
  env,
})
// NOTE: Ctrl-C reaches the whole foreground process group, the child included; forwarding covers a
// signal sent to this process alone (kill <pid>), and we wait for the child to finish its clean stop.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => child.kill(sig))
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))

function addResults(file, totals) {
  if (!existsSync(file)) {
    say(`no test results were written to ${file}`)
    totals.failed += 1
    return
  }
  const r = JSON.parse(readFileSync(file, 'utf8'))
  totals.passed += r.numPassedTests
  totals.failed += r.numFailedTests
  totals.skipped += r.numPendingTests + r.numTodoTests
}
