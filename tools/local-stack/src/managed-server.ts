import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { track, untrack } from './child-registry.js'
import type { Log } from './log.js'
import { fileSize, tailFile } from './log-tail.js'
import { assertPortFree } from './ports.js'
import { signalTree } from './process-tree.js'
import type { ManagedProcess, ProcessExit } from './types.js'
import { sleep, withinMs } from './wait.js'

export interface ServerSpec {
  name: string
  /** The log that explains what the server did; shown (its tail) when a start fails. */
  logFile: string
  /**
   * Receives the process's stdout and stderr (appended); defaults to logFile. Kafka logs through log4j to
   * its own file, so its stdout only catches what the JVM prints before log4j is up.
   */
  outputFile?: string
  /** Checked free before every start; `purpose` names the port in the error. */
  ports: { port: number; purpose: string }[]
  /** Runs before every spawn: write config, initialise storage. */
  prepare?: () => Promise<void>
  command: string
  args: string[]
  cwd: string
  env?: NodeJS.ProcessEnv
  /** Spawn as this user (root only): Postgres refuses to run as root. */
  user?: { uid: number; gid: number }
  /** One readiness probe; must not hang (give it its own timeout). */
  isReady: () => Promise<boolean>
  /** Runs once the probe succeeds, before start() resolves (e.g. create the database). */
  afterReady?: () => Promise<void>
  /** The signal that makes this server shut down cleanly. */
  stopSignal: NodeJS.Signals
  startTimeoutMs: number
  log: Log
}

const PROBE_INTERVAL_MS = 100
const DEFAULT_STOP_TIMEOUT_MS = 30_000
const FAILURE_TAIL_LINES = 20

interface Run {
  child: ChildProcess
  exited: Promise<ProcessExit>
  /** Set when stop() or kill() asked for the exit, so it is not reported as a crash. */
  intentional: boolean
  ready: boolean
  /** Why the spawn itself failed (e.g. ENOENT), when it did. */
  spawnError?: Error
}

/** A server process that can be started, stopped, killed and started again with the same spec. */
export class ManagedServer implements ManagedProcess {
  #run: Run | undefined
  #starting: Promise<void> | undefined
  readonly #listeners = new Set<(exit: ProcessExit) => void>()

  constructor(protected readonly spec: ServerSpec) {}

  get name(): string {
    return this.spec.name
  }

  get pid(): number | undefined {
    return this.#run?.child.pid
  }

  get logFile(): string {
    return this.spec.logFile
  }

  start(): Promise<void> {
    if (this.#run?.ready) return Promise.resolve()
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    const run = this.#run
    if (!run) return
    run.intentional = true
    // Only the main process: Postgres's postmaster, for one, shuts its backends down in order itself.
    signalProcess(run.child, this.spec.stopSignal)
    if ((await withinMs(run.exited, timeoutMs)) !== undefined) return
    this.spec.log(`${this.name} did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`)
    if (run.child.pid !== undefined) signalTree(run.child.pid, 'SIGKILL')
    await run.exited
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const run = this.#run
    if (!run || run.child.pid === undefined) return
    run.intentional = true
    // The whole tree, so that e.g. Postgres backends die with their postmaster as they would in a crash of
    // the machine or container, instead of lingering and blocking the next start.
    signalTree(run.child.pid, signal)
    await run.exited
  }

  onUnexpectedExit(listener: (exit: ProcessExit) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async #start(): Promise<void> {
    const { spec } = this
    for (const { port, purpose } of spec.ports) await assertPortFree(port, `${spec.name} ${purpose}`)
    await spec.prepare?.()
    const logFiles = [...new Set([spec.logFile, spec.outputFile ?? spec.logFile])]
    const offsets = await Promise.all(logFiles.map(fileSize))
    const run = this.#spawn()
    try {
      await this.#waitUntilReady(run)
      await spec.afterReady?.()
      run.ready = true
    } catch (err) {
      // Leave nothing half-started behind: the caller gets an error, not a process to clean up.
      run.intentional = true
      if (run.child.pid !== undefined) signalTree(run.child.pid, 'SIGKILL')
      await run.exited
      const tails = await Promise.all(logFiles.map((file, i) => describeTail(file, offsets[i] ?? 0)))
      const message = `${(err as Error).message}; its log: ${spec.logFile}`
      throw new Error([message, ...tails.filter(Boolean)].join('\n'))
    }
  }

  #spawn(): Run {
    const { spec } = this
    const logFd = openSync(spec.outputFile ?? spec.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        // Own process group: Ctrl-C in the terminal must not reach the server before the CLI has stopped
        // the services that depend on it; we stop it explicitly instead.
        detached: true,
        stdio: ['ignore', logFd, logFd],
        uid: spec.user?.uid,
        gid: spec.user?.gid,
      })
    } finally {
      closeSync(logFd)
    }
    let spawnError: Error | undefined
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      // 'error' without a pid means the spawn itself failed (e.g. binary missing) and no 'exit' follows.
      child.once('error', (err) => {
        if (child.pid !== undefined) return
        spawnError = err
        resolve({ code: null, signal: null })
      })
    })
    const run: Run = {
      child,
      exited,
      intentional: false,
      ready: false,
      get spawnError() {
        return spawnError
      },
    }
    this.#run = run
    track(this)
    void exited.then((exit) => {
      if (this.#run === run) this.#run = undefined
      untrack(this)
      if (run.ready && !run.intentional) for (const listener of this.#listeners) listener(exit)
    })
    return run
  }

  async #waitUntilReady(run: Run): Promise<void> {
    const { spec } = this
    const deadline = Date.now() + spec.startTimeoutMs
    let exit: ProcessExit | undefined
    void run.exited.then((e) => {
      exit = e
    })
    while (true) {
      if (run.spawnError) throw new Error(`${spec.name} could not be started: ${run.spawnError.message}`)
      if (exit) throw new Error(`${spec.name} exited during start (${describeExit(exit)})`)
      if (Date.now() > deadline) {
        throw new Error(`${spec.name} was not ready within ${Math.round(spec.startTimeoutMs / 1000)} s`)
      }
      if ((await spec.isReady().catch(() => false)) && !exit) return
      await Promise.race([sleep(PROBE_INTERVAL_MS), run.exited])
    }
  }
}

/** A server that clients reach at one URL: Postgres, Redis, the gateway. */
export class UrlServer extends ManagedServer {
  constructor(
    spec: ServerSpec,
    readonly url: string,
  ) {
    super(spec)
  }
}

export function describeExit(exit: ProcessExit): string {
  if (exit.signal) return `killed by ${exit.signal}`
  if (exit.code === null) return 'could not be spawned'
  return `exit code ${exit.code}`
}

function signalProcess(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(child.pid, signal)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

async function describeTail(file: string, fromOffset: number): Promise<string> {
  const lines = await tailFile(file, FAILURE_TAIL_LINES, fromOffset)
  if (lines.length === 0) return ''
  return `--- last lines of ${file} ---\n${lines.join('\n')}`
}
