import { signalTree } from './process-tree.js'

/** What the registry needs of a running server: enough to stop it, or to kill its whole process group. */
export interface TrackedProcess {
  readonly name: string
  readonly pid: number | undefined
  stop(timeoutMs?: number): Promise<void>
}

const running = new Set<TrackedProcess>()
const HANDLED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false

/**
 * Remembers a spawned server so it cannot outlive this Node process.
 * WHY: servers are spawned detached (their own process group) so that Ctrl-C in a terminal does not hit them
 * before the CLI has stopped the services that use them; the price is that nothing else kills them when
 * Node goes away.
 */
export function track(process: TrackedProcess): void {
  running.add(process)
  installHooks()
}

export function untrack(process: TrackedProcess): void {
  running.delete(process)
}

/** Every server started by this package that is running now, including ones still starting. */
export function trackedProcesses(): TrackedProcess[] {
  return [...running]
}

/** SIGKILLs every tracked server with everything below it; synchronous, so it is safe in an 'exit' hook. */
export function killAllTrackedNow(): void {
  for (const tracked of running) {
    if (tracked.pid !== undefined) signalTree(tracked.pid, 'SIGKILL')
  }
}

function installHooks(): void {
  if (installed) return
  installed = true
  process.on('exit', killAllTrackedNow)
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal)
}

function onSignal(signal: NodeJS.Signals): void {
  // Another handler (the CLI's ordered shutdown, a test runner) owns this signal and will exit in its own
  // time; the 'exit' hook still cleans up whatever is left then.
  if (process.listenerCount(signal) > 1) return
  killAllTrackedNow()
  // Re-raise with no handler left, so Node ends the way it would have without us (killed by the signal).
  for (const handled of HANDLED_SIGNALS) process.off(handled, onSignal)
  process.kill(process.pid, signal)
}
