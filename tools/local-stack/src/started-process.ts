import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { ProcessExit } from './types.js'
import { sleep } from './wait.js'

// Enough for a stack trace and the log lines before it, which is what a failed start is read for.
const OUTPUT_KEPT = 50_000

export interface StoppedProcess extends ProcessExit {
  /** From stop()'s signal to the exit: what a shutdown-timeout check measures. */
  seconds: number
}

/**
 * A program started by the bench, a test or a deploy check, with its output kept in memory.
 * (`npm start`'s long-running servers are ManagedProcess instead: they log to files and restart.)
 */
export interface StartedProcess {
  readonly name: string
  readonly process: ChildProcess
  /** The latest output, stdout and stderr interleaved. */
  output(): string
  /** Sends `signal` (SIGTERM by default) unless the process has already gone; resolves once it has. */
  stop(signal?: NodeJS.Signals): Promise<StoppedProcess>
}

export interface StartProcessOptions {
  name: string
  command: string
  args: string[]
  /**
   * The whole environment besides PATH. WHY: a service must see only the variables the caller chose, not
   * the developer's shell, or a stray DATABASE_URL would point a test at the wrong database.
   */
  env: Record<string, string>
  cwd?: string
  /** SIGKILL a process still running this long after stop()'s signal; by default stop() waits for it. */
  killAfterMs?: number
}

export function startProcess(opts: StartProcessOptions): StartedProcess {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return {
    name: opts.name,
    process: child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      const started = Date.now()
      let escalation: NodeJS.Timeout | undefined
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        if (opts.killAfterMs !== undefined)
          escalation = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs)
      }
      const [code, exitSignal] = await exited
      clearTimeout(escalation)
      return { code, signal: exitSignal, seconds: (Date.now() - started) / 1000 }
    },
  }
}

/**
 * Polls `url` until it answers 200. A process that exits first, or is not ready within `timeoutMs`, is
 * killed, and the error carries its output: the reason a service did not start is almost always in it.
 */
export async function waitUntilReady(
  started: StartedProcess,
  url: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let problem: string
  for (;;) {
    const { exitCode, signalCode } = started.process
    if (exitCode !== null || signalCode !== null) {
      problem = `${started.name} exited with ${exitCode ?? signalCode}`
      break
    }
    try {
      if ((await fetch(url)).status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      problem = `${started.name} was not ready within ${timeoutMs / 1000} s`
      break
    }
    await sleep(200)
  }
  await started.stop('SIGKILL')
  throw new Error(`${problem}\n--- ${started.name} output ---\n${started.output()}`)
}
