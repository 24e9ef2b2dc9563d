import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensurePythonTool } from '@adtrack/test-support'

/** The schemathesis release the fuzz test runs; requirements.txt pins it and everything it pulls in. */
export const SCHEMATHESIS_VERSION = '4.32.5'

const requirementsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'requirements.txt')

/**
 * The Python of a virtualenv holding schemathesis, created on first use under
 * ~/.cache/ad-tracking/schemathesis-<version>-<hash of requirements.txt> with the machine's `python3 -m venv`
 * (FUZZ_PYTHON names another interpreter). Later runs reuse it; a changed requirements.txt gets a new one.
 */
export function ensureSchemathesis(): Promise<string> {
  return ensurePythonTool({
    name: 'schemathesis',
    version: SCHEMATHESIS_VERSION,
    requirementsFile,
    pythonVariable: 'FUZZ_PYTHON',
    // The fuzz test starts it as `<venv>/bin/python -m schemathesis.cli`, so check it the same way.
    check: ['-m', 'schemathesis.cli', '--version'],
    minPython: { major: 3, minor: 11 }, // schemathesis 4
    expect: '15-25 s',
    log: (msg) => process.stderr.write(`[fuzz] ${msg}\n`),
  })
}
