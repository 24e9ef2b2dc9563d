/**
 * How long after the first stop signal another one still counts as the same Ctrl-C.
 * WHY: one Ctrl-C can reach us several times within milliseconds: from the terminal (it signals the whole
 * foreground process group) and again forwarded by scripts/bootstrap.mjs (and by npm above it). Only a
 * later, deliberate second Ctrl-C means "force".
 */
export const SAME_SIGNAL_WINDOW_MS = 1_000

export type SignalMeaning = 'stop' | 'duplicate' | 'force'

export function signalMeaning(firstSignalAt: number | undefined, now: number): SignalMeaning {
  if (firstSignalAt === undefined) return 'stop'
  return now - firstSignalAt < SAME_SIGNAL_WINDOW_MS ? 'duplicate' : 'force'
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** Calls `stop` on the first SIGINT/SIGTERM/SIGHUP and `force` on a deliberate second one. */
export function onStopSignals(handlers: { stop: (signal: NodeJS.Signals) => void; force: () => void }): void {
  let firstSignalAt: number | undefined
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      const meaning = signalMeaning(firstSignalAt, Date.now())
      if (meaning === 'stop') {
        firstSignalAt = Date.now()
        handlers.stop(signal)
      } else if (meaning === 'force') {
        handlers.force()
      }
    })
  }
}
