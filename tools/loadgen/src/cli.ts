#!/usr/bin/env node
import { parseLoadArgs, USAGE, UsageError } from './args.js'
import { runLoad } from './loadgen.js'
import { formatProgress, formatSummary } from './summary.js'

let opts: ReturnType<typeof parseLoadArgs>
try {
  // The one place the load generator reads the environment: --mode vast mints tokens with the services' keys.
  opts = parseLoadArgs(process.argv.slice(2), { TRACKING_TOKEN_KEYS: process.env.TRACKING_TOKEN_KEYS })
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`loadgen: ${err.message}\n\n${USAGE}\n`)
  process.exit(2)
}
if (!opts) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}

// Ctrl-C stops sending, lets the requests in flight finish, and still prints the summary.
const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())

const progress = opts.progress
  ? (p: Parameters<typeof formatProgress>[0]) => process.stderr.write(`${formatProgress(p)}\n`)
  : undefined
const summary = await runLoad(opts, { onProgress: progress, signal: stop.signal })
process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`)
if (opts.record)
  process.stderr.write(
    `acknowledged ${opts.mode === 'vast' ? '(impression, event) pairs' : 'click ids'} written to ${opts.record}\n`,
  )
process.exit(summary.clicksAcknowledged > 0 ? 0 : 1)
