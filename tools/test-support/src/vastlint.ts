import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChecked, runCommand } from '@adtrack/local-stack'

// vastlint, the validator the VAST tag tests judge our tags with. IAB's VAST 4.2 XSD ships in no package
// on the registries this project installs from (docs/tracking.md#validating-the-tag says what was looked
// at), so the tests use vastlint from PyPI, which checks the XSD's rules and the specification's prose.
// Installed like tools/fuzz installs schemathesis: a venv under ~/.cache/ad-tracking, built on first use
// from a pinned, hash-checked requirements file, reused after.

/** The vastlint release the tests run; vastlint-requirements.txt pins its files by hash. */
export const VASTLINT_VERSION = '0.16.2'

const requirementsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'vastlint-requirements.txt')
const log = (msg: string) => process.stderr.write(`[vastlint] ${msg}\n`)

export interface VastlintIssue {
  id: string
  severity: 'error' | 'warning' | 'info'
  message: string
  path?: string | null
  spec_ref?: string | null
  line?: number | null
}

export interface VastlintResult {
  /** The VAST version vastlint read the tag as. */
  version: string | null
  issues: VastlintIssue[]
  summary: { errors: number; warnings: number; infos: number; valid: boolean }
}

/**
 * The Python of a venv holding vastlint, created on first use under
 * ~/.cache/ad-tracking/vastlint-<version>-<hash of the requirements file> with `python3 -m venv`
 * (VASTLINT_PYTHON names another interpreter). Later runs reuse it.
 */
export async function ensureVastlint(): Promise<string> {
  const requirements = await readFile(requirementsFile)
  const hash = createHash('sha256').update(requirements).digest('hex').slice(0, 8)
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ad-tracking')
  const venv = join(cacheRoot, `vastlint-${VASTLINT_VERSION}-${hash}`)
  const python = join(venv, 'bin', 'python')
  if (existsSync(python)) return python

  const basePython = process.env.VASTLINT_PYTHON || 'python3'
  // NOTE: built beside its final place and renamed when complete, so an interrupted install never leaves a
  // half-filled venv that later runs would trust (the venv is only ever started as <venv>/bin/python).
  const building = `${venv}.partial-${process.pid}`
  const run = (cmd: string, args: string[], prefix: string) =>
    runChecked(cmd, args, { onLine: (line) => line.trim() && log(`${prefix} ${line.trimEnd()}`) })
  log(`installing vastlint ${VASTLINT_VERSION} into ${venv} (first use; a few seconds)`)
  try {
    // On Debian, a missing `venv` module means the python3-venv package is not installed.
    await run(basePython, ['-m', 'venv', building], 'venv:')
    await run(
      join(building, 'bin', 'python'),
      [
        ...['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off'],
        ...['--require-hashes', '--only-binary', ':all:', '-r', requirementsFile],
      ],
      'pip:',
    )
    await run(join(building, 'bin', 'python'), ['-c', 'import vastlint; print(vastlint.version())'], 'check:')
    await rename(building, venv).catch((err: NodeJS.ErrnoException) => {
      // Another run finished first: use its copy.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err
    })
  } finally {
    await rm(building, { recursive: true, force: true })
  }
  return python
}

const VALIDATE = 'import sys, vastlint; print(vastlint.validate(sys.stdin.buffer.read()).to_json())'

/** vastlint's verdict on one tag (python from ensureVastlint). */
export async function vastlint(python: string, xml: string): Promise<VastlintResult> {
  const res = await runCommand(python, ['-c', VALIDATE], { input: xml, timeoutMs: 30_000 })
  if (res.code !== 0) throw new Error(`vastlint failed (exit ${res.code}): ${res.stderr.slice(-2000)}`)
  return JSON.parse(res.stdout) as VastlintResult
}
