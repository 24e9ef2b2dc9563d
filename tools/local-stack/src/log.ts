/** Where progress and warnings go; every start function takes one so callers can prefix or silence it. */
export type Log = (msg: string) => void

export const stderrLog: Log = (msg) => {
  process.stderr.write(`[local-stack] ${msg}\n`)
}
