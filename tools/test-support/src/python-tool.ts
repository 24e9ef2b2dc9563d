import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { runChecked } from '@adtrack/local-stack'

// The Python tools the tests judge our output with (vastlint for VAST tags, schemathesis for the
// OpenAPI files) ship on PyPI only. Each lives in a venv of its own under ~/.cache/ad-tracking, built on
// first use from a pinned requirements file and reused after.

export interface PythonTool {
  /** The tool's name, for the venv's directory and the log. */
  name: string
  /** The release the requirements file pins. */
  version: string
  requirementsFile: string
  /** The environment variable that names another interpreter than python3 to build the venv with. */
  pythonVariable: string
  /** pip install options beyond the quiet ones and `-r requirementsFile` (e.g. --require-hashes). */
  pipOptions?: string[]
  /** Python's arguments that show the installed tool starts (run once, after pip). */
  check: string[]
  /** The oldest Python the tool runs on, checked before anything is installed. */
  minPython?: { major: number; minor: number }
  /** How long a first install takes, for the log. */
  expect: string
  log: (msg: string) => void
}

/**
 * The Python of a venv holding the tool, created on first use under
 * ~/.cache/ad-tracking/<name>-<version>-<hash of the requirements file> with `python3 -m venv`
 * (tool.pythonVariable names another interpreter). Later runs reuse it; a changed requirements file
 * gets a new one.
 */
export async function ensurePythonTool(tool: PythonTool): Promise<string> {
  const requirements = await readFile(tool.requirementsFile)
  const hash = createHash('sha256').update(requirements).digest('hex').slice(0, 8)
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ad-tracking')
  const venv = join(cacheRoot, `${tool.name}-${tool.version}-${hash}`)
  const python = join(venv, 'bin', 'python')
  if (existsSync(python)) return python

  const basePython = process.env[tool.pythonVariable] || 'python3'
  const run = (cmd: string, args: string[], prefix: string) =>
    runChecked(cmd, args, { onLine: (line) => line.trim() && tool.log(`${prefix} ${line.trimEnd()}`) })
  // NOTE: built beside its final place and renamed when complete, so an interrupted install never leaves a
  // half-filled venv that later runs would trust. A venv survives the rename because the tests always
  // start it as <venv>/bin/python, never through the absolute paths in its bin/ scripts' shebangs.
  const building = `${venv}.partial-${process.pid}`
  const started = Date.now()
  tool.log(`installing ${tool.name} ${tool.version} into ${venv} (first use; ${tool.expect})`)
  try {
    const min = tool.minPython
    if (min) {
      // Say so plainly rather than through a failed pip resolution.
      await run(
        basePython,
        ['-c', `import sys; assert sys.version_info >= (${min.major}, ${min.minor}), sys.version`],
        'python:',
      ).catch((err: Error) => {
        throw new Error(
          `${tool.name} needs Python ${min.major}.${min.minor} or newer as ${basePython} (or ${tool.pythonVariable}): ${err.message}`,
        )
      })
    }
    tool.log(`creating a virtualenv with ${basePython} -m venv`)
    // On Debian, a missing `venv` module means the python3-venv package is not installed.
    await run(basePython, ['-m', 'venv', building], 'venv:')
    tool.log(`pip install -r ${tool.requirementsFile}`)
    await run(
      join(building, 'bin', 'python'),
      [
        ...['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off'],
        ...(tool.pipOptions ?? []),
        ...['-r', tool.requirementsFile],
      ],
      'pip:',
    )
    await run(join(building, 'bin', 'python'), tool.check, 'check:')
    await rename(building, venv).catch((err: NodeJS.ErrnoException) => {
      // Another run finished first: use its copy.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err
    })
  } finally {
    await rm(building, { recursive: true, force: true })
  }
  tool.log(`${tool.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return python
}
