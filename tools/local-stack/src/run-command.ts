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
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/** Runs a short-lived command to completion, collecting stdout and stderr together; never rejects on exit code. */
export function runCommand(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: opts.user?.uid,
      gid: opts.user?.gid,
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    })
    const chunks: Buffer[] = []
    let partial = ''
    const collect = (chunk: Buffer) => {
      chunks.push(chunk)
      if (!opts.onLine) return
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) opts.onLine(line)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.once('error', (err) => reject(new Error(`could not run ${command}: ${err.message}`)))
    child.once('close', (code, signal) =>
      resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8') }),
    )
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
