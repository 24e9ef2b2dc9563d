import { spawn } from 'node:child_process'

export type Log = (message: string) => void
export const stderrLog: Log = (message) => process.stderr.write(`[deploy-checks] ${message}\n`)

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // No stdin unless there is input: a program that exits without reading it would raise EPIPE.
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[killed after ${opts.timeoutMs} ms]`
            child.kill('SIGKILL')
          }, opts.timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`${cmd} could not start: ${err.message}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    if (child.stdin) {
      // A program may exit before reading all its input; its exit status says what happened.
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
  })
}

/** Runs a command and returns its stdout; throws with the command line and its output when it fails. */
export async function runChecked(
  cmd: string,
  args: string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(cmd, args, opts)
  if (result.code !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().slice(-8000)
    throw new Error(`\`${[cmd, ...args].join(' ')}\` exited with ${result.code}:\n${output}`)
  }
  return result.stdout
}
