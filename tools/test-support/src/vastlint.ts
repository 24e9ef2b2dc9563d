import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCommand } from '@adtrack/local-stack'
import { ensurePythonTool } from './python-tool.js'

// vastlint, the validator the VAST tag tests judge our tags with. IAB's VAST 4.2 XSD ships in no package
// on the registries this project installs from (docs/tracking.md#validating-the-tag says what was looked
// at), so the tests use vastlint from PyPI, which checks the XSD's rules and the specification's prose.
// Installed by ensurePythonTool, as tools/fuzz installs schemathesis, from a hash-checked requirements file.

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
export function ensureVastlint(): Promise<string> {
  return ensurePythonTool({
    name: 'vastlint',
    version: VASTLINT_VERSION,
    requirementsFile,
    pythonVariable: 'VASTLINT_PYTHON',
    // Every file pinned by hash, wheels only: nothing is built from source on the test machine.
    pipOptions: ['--require-hashes', '--only-binary', ':all:'],
    check: ['-c', 'import vastlint; print(vastlint.version())'],
    expect: 'a few seconds',
    log,
  })
}

const VALIDATE = 'import sys, vastlint; print(vastlint.validate(sys.stdin.buffer.read()).to_json())'

/** vastlint's verdict on one tag (python from ensureVastlint). */
export async function vastlint(python: string, xml: string): Promise<VastlintResult> {
  const res = await runCommand(python, ['-c', VALIDATE], { input: xml, timeoutMs: 30_000 })
  if (res.code !== 0) throw new Error(`vastlint failed (exit ${res.code}): ${res.stderr.slice(-2000)}`)
  return JSON.parse(res.stdout) as VastlintResult
}
