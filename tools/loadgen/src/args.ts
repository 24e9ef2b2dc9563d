import { parseArgs } from 'node:util'

export interface LoadOptions {
  /** Base URL of the API (the gateway, or ingest-api itself). */
  url: string
  /** Clicks per second to aim for; 0: as fast as the connections allow. */
  rate: number
  /** Stop after this long (ms)... */
  durationMs: number | undefined
  /** ...or after this many clicks, whichever comes first. At least one of the two is set. */
  count: number | undefined
  /** HTTP connections (undici Pool), and most requests in flight at once. */
  connections: number
  mode: 'single' | 'batch'
  /** Clicks per request in batch mode (POST /ads/clicks). */
  batchSize: number
  /** Ad ids to click; undefined: fetched from GET /ads, or the demo ads "1".."10" if that fails. */
  ads: string[] | undefined
  /** Zipf exponent of ad popularity (0: uniform). */
  zipf: number
  /** Distinct viewers. */
  viewers: number
  /** Share of clicks from a bot user agent. */
  botShare: number
  /** Share of clicks that repeat the viewer's previous click on the same ad right away (the repeat rule). */
  repeatShare: number
  /** Share of requests re-sent with the same click_id, as a player retrying (counted once). */
  retryShare: number
  /** File to write every acknowledged click_id to, one per line. */
  record: string | undefined
  seed: number
  /** Progress line once a second. */
  progress: boolean
  /** Print the summary as JSON instead of text. */
  json: boolean
}

export const USAGE = `npm run loadgen -- [options]

Sends realistic click traffic (Zipf-popular ads, many viewers, some bots, repeats and retries) to
POST /ads/click (or POST /ads/clicks in batch mode), prints a progress line once a second (clicks/s,
latency p50/p99, errors, replies by status) and a summary. It stops by itself after --duration or --count
(default: 10s). With --rate, requests are sent on a fixed schedule and latency is timed from each one's
scheduled send, so that a stalled server shows in the percentiles (no coordinated omission); the service
time, from the actual send, is shown beside it.

  --url <base>          API base URL (default http://127.0.0.1:8080, the npm start gateway)
  --rate <n>            target clicks per second; 0 = as fast as possible (default 0)
  --duration <d>        how long, e.g. 30s, 2m, 500ms (default 10s unless --count is given)
  --count <n>           how many clicks at most
  --connections <n>     HTTP connections = most requests in flight (default 32)
  --mode single|batch   one click per request, or POST /ads/clicks (default single)
  --batch-size <n>      clicks per batch request (default 100)
  --ads <a,b,...>       ad ids (default: fetched from GET /ads, else "1".."10")
  --zipf <s>            Zipf exponent of ad popularity, 0 = uniform (default 1.1)
  --viewers <n>         distinct viewers (default 100000)
  --bot-share <f>       share of clicks with a bot user agent (default 0.01)
  --repeat-share <f>    share of clicks repeating the viewer's last click on that ad (default 0.02)
  --retry-share <f>     share of requests sent twice with the same click_id (default 0.01)
  --record <file>       write every acknowledged click_id to <file>, one per line
  --seed <n>            random seed (default 1)
  --quiet               no progress line
  --json                print the summary as JSON
  --help`

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Parses a Go-style duration ("1m30s", "500ms", "10s"); a bare number is seconds. */
export function parseDurationMs(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let end = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] as string] as number)
    end = re.lastIndex
  }
  if (end === 0 || end !== text.length)
    throw new UsageError(`not a duration: "${text}" (e.g. 30s, 2m, 500ms)`)
  return total
}

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = Infinity,
): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be a number from ${min}${max === Infinity ? '' : ` to ${max}`}, got "${text}"`,
    )
  }
  return n
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max = Infinity) {
  const n = number(name, text, fallback, min, max)
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got "${text}"`)
  return n
}

/** Reads the command line; throws UsageError with a message for the user. `undefined` means --help. */
export function parseLoadArgs(argv: string[]): LoadOptions | undefined {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const v = parsed.values
  if (v.help) return undefined
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`)
  const mode = v.mode ?? 'single'
  if (mode !== 'single' && mode !== 'batch')
    throw new UsageError(`--mode must be single or batch, got "${mode}"`)
  let url: URL
  try {
    url = new URL(v.url ?? 'http://127.0.0.1:8080')
  } catch {
    throw new UsageError(`--url is not a URL: "${v.url}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be http(s)')
  const count = v.count === undefined ? undefined : integer('count', v.count, 0, 1)
  const durationMs =
    v.duration === undefined ? (count === undefined ? 10_000 : undefined) : parseDurationMs(v.duration)
  if (durationMs !== undefined && durationMs <= 0) throw new UsageError('--duration must be positive')
  const ads = v.ads
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (ads !== undefined && ads.length === 0) throw new UsageError('--ads names no ad')
  return {
    url: url.origin + url.pathname.replace(/\/$/, ''),
    rate: number('rate', v.rate, 0, 0),
    durationMs,
    count,
    connections: integer('connections', v.connections, 32, 1, 10_000),
    mode,
    batchSize: integer('batch-size', v['batch-size'], 100, 1, 10_000),
    ads,
    zipf: number('zipf', v.zipf, 1.1, 0, 10),
    viewers: integer('viewers', v.viewers, 100_000, 1),
    botShare: number('bot-share', v['bot-share'], 0.01, 0, 1),
    repeatShare: number('repeat-share', v['repeat-share'], 0.02, 0, 1),
    retryShare: number('retry-share', v['retry-share'], 0.01, 0, 1),
    record: v.record,
    seed: integer('seed', v.seed, 1, 0),
    progress: !v.quiet,
    json: v.json ?? false,
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      count: { type: 'string' },
      connections: { type: 'string' },
      mode: { type: 'string' },
      'batch-size': { type: 'string' },
      ads: { type: 'string' },
      zipf: { type: 'string' },
      viewers: { type: 'string' },
      'bot-share': { type: 'string' },
      'repeat-share': { type: 'string' },
      'retry-share': { type: 'string' },
      record: { type: 'string' },
      seed: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

/** Every option at its default, for programmatic use (the benchmark). */
export function loadDefaults(overrides: Partial<LoadOptions> = {}): LoadOptions {
  return { ...(parseLoadArgs([]) as LoadOptions), progress: false, ...overrides }
}
