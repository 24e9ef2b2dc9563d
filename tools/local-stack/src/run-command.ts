import { spawn } from 'node:child_process'
import { lastLines } from './log-tail.js'

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Run as this user (only possible as root), e.g. initdb as `postgres`. */
  user?: { uid: number; gid: number }
  timeoutMs?: number
  /** Called with each line of output as it arrives (long installs show progress through it). */
  onLine?: (line: string) => void
  /** Written to the command's stdin, which is otherwise closed. */
  input?: string
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  /** stdout and stderr together, in the order they came. */
  output: string
  /** Each alone, for a command whose stdout is data (JSON, YAML) and whose stderr is talk. */
  stdout: string
  stderr: string
}

/** Runs a short-lived command to completion, collecting its output; never rejects on exit code. */
export function runCommand(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // No stdin unless there is input: a program that exits without reading it would raise EPIPE.
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      uid: opts.user?.uid,
      gid: opts.user?.gid,
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    })
    const chunks: Buffer[] = []
    const out: Buffer[] = []
    const err: Buffer[] = []
    let partial = ''
    const collect = (chunk: Buffer) => {
      chunks.push(chunk)
      if (!opts.onLine) return
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) opts.onLine(line)
    }
    child.stdout?.on('data', (chunk: Buffer) => {
      out.push(chunk)
      collect(chunk)
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      err.push(chunk)
      collect(chunk)
    })
    child.once('error', (error) => reject(new Error(`could not run ${command}: ${error.message}`)))
    child.once('close', (code, signal) =>
      resolve({
        code,
        signal,
        output: Buffer.concat(chunks).toString('utf8'),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    )
    if (child.stdin) {
      // A program may exit before reading all its input; its exit status says what happened.
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
  })
}

/** Like runCommand, but a non-zero exit is an Error carrying the command line and its last output lines. */
export async function runChecked(command: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const result = await runCommand(command, args, opts)
  if (result.code === 0) return result.output
  const status = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`
  const tail = lastLines(result.output, 20)
    .map((line) => `  ${line}`)
    .join('\n')
  throw new Error(`\`${[command, ...args].join(' ')}\` ${status}${tail ? `:\n${tail}` : ''}`)
}
