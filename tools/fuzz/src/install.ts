import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChecked } from '@adtrack/local-stack'

/** The schemathesis release the fuzz test runs; requirements.txt pins it and everything it pulls in. */
export const SCHEMATHESIS_VERSION = '4.32.5'

const requirementsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'requirements.txt')
const log = (msg: string) => process.stderr.write(`[fuzz] ${msg}\n`)

/** Runs a command, passing its output on line by line with a prefix; rejects on a non-zero exit. */
async function run(cmd: string, args: string[], prefix: string): Promise<void> {
  await runChecked(cmd, args, { onLine: (line) => line.trim() && log(`${prefix} ${line.trimEnd()}`) })
}

/**
 * The Python of a virtualenv holding schemathesis, created on first use under
 * ~/.cache/ad-tracking/schemathesis-<version>-<hash of requirements.txt> with the machine's `python3 -m venv`
 * (FUZZ_PYTHON names another interpreter). Later runs reuse it; a changed requirements.txt gets a new one.
 */
export async function ensureSchemathesis(): Promise<string> {
  const requirements = await readFile(requirementsFile)
  const hash = createHash('sha256').update(requirements).digest('hex').slice(0, 8)
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ad-tracking')
  const venv = join(cacheRoot, `schemathesis-${SCHEMATHESIS_VERSION}-${hash}`)
  const python = join(venv, 'bin', 'python')
  if (existsSync(python)) return python

  const basePython = process.env.FUZZ_PYTHON || 'python3'
  // NOTE: built beside its final place and renamed when complete, so an interrupted install never leaves a
  // half-filled venv that later runs would trust. A venv survives the rename because we always start it as
  // `<venv>/bin/python -m schemathesis.cli`, never through the absolute paths in its bin/ scripts' shebangs.
  const building = `${venv}.partial-${process.pid}`
  const started = Date.now()
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv} (first use; 15-25 s)`)
  try {
    // schemathesis 4 needs Python 3.11; say so plainly rather than through a failed pip resolution.
    await run(
      basePython,
      ['-c', 'import sys; assert sys.version_info >= (3, 11), sys.version'],
      'python:',
    ).catch((err: Error) => {
      throw new Error(
        `schemathesis needs Python 3.11 or newer as ${basePython} (or FUZZ_PYTHON): ${err.message}`,
      )
    })
    log(`creating a virtualenv with ${basePython} -m venv`)
    // On Debian, a missing `venv` module means the python3-venv package is not installed.
    await run(basePython, ['-m', 'venv', building], 'venv:')
    log(`pip install -r ${requirementsFile}`)
    await run(
      join(building, 'bin', 'python'),
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '--progress-bar',
        'off',
        '-r',
        requirementsFile,
      ],
      'pip:',
    )
    await run(join(building, 'bin', 'python'), ['-m', 'schemathesis.cli', '--version'], 'check:')
    await rename(building, venv).catch(async (err: NodeJS.ErrnoException) => {
      // Another run finished first: use its copy.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err
    })
  } finally {
    await rm(building, { recursive: true, force: true })
  }
  log(`schemathesis ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return python
}
