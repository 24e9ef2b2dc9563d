import { parseArgs } from 'node:util'
import { DEVELOPMENT_TRACKING_KEYS, parseTrackingKeys } from '@adtrack/service-runtime/impression-token'
import { DEFAULT_MIX, FUNNEL } from './vast-plan.js'

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
  /** Clicks one at a time, clicks in batches, or a VAST player's pixels and click-throughs. */
  mode: 'single' | 'batch' | 'vast'
  /** Clicks per request in batch mode (POST /ads/clicks). */
  batchSize: number
  /** Ad ids to click; undefined: fetched from GET /ads, or the demo ads "1".."10" if that fails. */
  ads: string[] | undefined
  /** Zipf exponent of ad popularity (0: uniform). */
  zipf: number
  /** Distinct viewers. */
  viewers: number
  /** Share of clicks (vast mode: impressions) from a bot user agent. */
  botShare: number
  /** Share of clicks that repeat the viewer's previous click on the same ad right away (the repeat rule). */
  repeatShare: number
  /**
   * Share of requests re-sent with the same click_id, as a player retrying (counted once); vast mode:
   * of pixels and click-throughs fired twice with the same URL.
   */
  retryShare: number
  /** Vast mode: share of impressions that fire the error pixel instead of starting. */
  errorShare: number
  /** Vast mode: share of impressions that click through. */
  clickShare: number
  /** Vast mode: take each impression's URLs from GET /ads/:id/vast instead of minting tokens locally. */
  vastFetch: boolean
  /** Vast mode with vastFetch: base URL of the VAST tags (analytics-api); the --url when undefined. */
  vastUrl: string | undefined
  /** Vast mode without vastFetch: TRACKING_TOKEN_KEYS as the services read it ('' = the development key). */
  trackingKeys: string
  /** File to write every acknowledged click_id (vast mode: `<impression id> <event>`) to, one per line. */
  record: string | undefined
  seed: number
  /** Progress line once a second. */
  progress: boolean
  /** Print the summary as JSON instead of text. */
  json: boolean
}

const DEFAULT_VAST_BOT_SHARE = 0.02
/** Errors replace a start, so at most the impressions that do not start can fire one. */
const MAX_ERROR_SHARE = Number((1 - (FUNNEL[0]?.share ?? 1)).toFixed(6))
const pct = (n: number) => `${Math.round(n * 1000) / 10}%`

export const USAGE = `npm run loadgen -- [options]

Sends realistic click traffic (Zipf-popular ads, many viewers, some bots, repeats and retries) to
POST /ads/click (or POST /ads/clicks in batch mode), or a VAST player's tracking requests (--mode vast,
below), prints a progress line once a second (clicks/s,
latency p50/p99, errors, replies by status) and a summary. It stops by itself after --duration or --count
(default: 10s). With --rate, requests are sent on a fixed schedule and latency is timed from each one's
scheduled send, so that a stalled server shows in the percentiles (no coordinated omission); the service
time, from the actual send, is shown beside it.

  --url <base>          API base URL (default http://127.0.0.1:8080, the npm start gateway)
  --rate <n>            target clicks (vast mode: requests) per second; 0 = as fast as possible
                        (default 0)
  --duration <d>        how long, e.g. 30s, 2m, 500ms (default 10s unless --count is given)
  --count <n>           how many clicks (vast mode: impressions) at most
  --connections <n>     HTTP connections = most requests in flight (default 32)
  --mode single|batch|vast
                        one click per request, POST /ads/clicks, or a VAST player's tracking
                        pixels and click-throughs (below) (default single)
  --batch-size <n>      clicks per batch request (default 100)
  --ads <a,b,...>       ad ids (default: fetched from GET /ads, else "1".."10")
  --zipf <s>            Zipf exponent of ad popularity, 0 = uniform (default 1.1)
  --viewers <n>         distinct viewers (default 100000)
  --bot-share <f>       share of clicks (vast: impressions) with a bot user agent
                        (default 0.01; vast ${DEFAULT_VAST_BOT_SHARE})
  --repeat-share <f>    share of clicks repeating the viewer's last click on that ad (default 0.02)
  --retry-share <f>     share of requests sent twice with the same click_id (default 0.01); vast:
                        of pixels and click-throughs fired twice with the same URL (default ${DEFAULT_MIX.repeatShare})
  --record <file>       write every acknowledged click_id to <file>, one per line (vast: every
                        acknowledged "<impression id> <event>")
  --seed <n>            random seed (default 1)
  --quiet               no progress line
  --json                print the summary as JSON
  --help

--mode vast plays impressions of the ads as VAST players do. Each fires GET /track/<ad>/impression;
then, of the impressions, ${FUNNEL.map((f) => `${pct(f.share)} ${f.event}`).join(', ')}.
Of those that start and stop early without clicking, ${pct(DEFAULT_MIX.skipShare)} fire skip; of those that start,
${pct(DEFAULT_MIX.pauseShare)} pause (and resume if the ad plays on) and ${pct(DEFAULT_MIX.muteShare)} mute (half of them unmute later).
--error-share fire error (with a VAST error code, or [ERRORCODE] left literal) instead of starting;
--click-share click through (GET /track/<ad>/clickthrough, expecting 302). Many impressions play at
once, their requests interleaved. The summary counts, per event, the (impression, event) pairs
acknowledged, and what GET /ads/analytics should then show (bots and repeated pixels left out).

  --error-share <f>     share of impressions firing error instead of start, at most ${pct(MAX_ERROR_SHARE)}
                        (default ${DEFAULT_MIX.errorShare})
  --click-share <f>     share of impressions that click through (default ${DEFAULT_MIX.clickShare})
  --vast-fetch          fetch GET /ads/<id>/vast for each impression and fire the tag's own URLs
                        (sent to --url's host, whatever host the tag names). Default: mint each
                        impression's token here, as analytics-api would, with the keys in the
                        environment's TRACKING_TOKEN_KEYS (empty: the development key, as the
                        services use); this loads ingest-api alone, but the keys must be the
                        services' own, or every pixel loads and nothing is counted
  --vast-url <base>     where the tags are, with --vast-fetch (default: --url)`

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

/** An http(s) base URL without its trailing slash. */
function httpUrl(name: string, text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--${name} is not a URL: "${text}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--${name} must be http(s)`)
  return url.origin + url.pathname.replace(/\/$/, '')
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

/**
 * Reads the command line (and TRACKING_TOKEN_KEYS from `env`); throws UsageError with a message for the
 * user. `undefined` means --help.
 */
export function parseLoadArgs(
  argv: string[],
  env: { TRACKING_TOKEN_KEYS?: string | undefined } = {},
): LoadOptions | undefined {
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
  if (mode !== 'single' && mode !== 'batch' && mode !== 'vast')
    throw new UsageError(`--mode must be single, batch or vast, got "${mode}"`)
  const vast = mode === 'vast'
  for (const [name, given] of [
    ['batch-size', v['batch-size']],
    ['repeat-share', v['repeat-share']],
    ['viewers', v.viewers],
  ] as const)
    if (vast && given !== undefined) throw new UsageError(`--${name} is for clicks, not --mode vast`)
  for (const [name, given] of [
    ['error-share', v['error-share']],
    ['click-share', v['click-share']],
    ['vast-fetch', v['vast-fetch']],
    ['vast-url', v['vast-url']],
  ] as const)
    if (!vast && given !== undefined) throw new UsageError(`--${name} is for --mode vast`)
  if (v['vast-url'] !== undefined && !v['vast-fetch'])
    throw new UsageError('--vast-url names where tags are fetched: give --vast-fetch too')
  const url = httpUrl('url', v.url ?? 'http://127.0.0.1:8080')
  const vastUrl = v['vast-url'] === undefined ? undefined : httpUrl('vast-url', v['vast-url'])
  const trackingKeys = env.TRACKING_TOKEN_KEYS?.trim() ?? ''
  if (vast && !v['vast-fetch']) {
    try {
      parseTrackingKeys(trackingKeys === '' ? DEVELOPMENT_TRACKING_KEYS : trackingKeys)
    } catch (err) {
      throw new UsageError(`the tokens are minted with TRACKING_TOKEN_KEYS: ${(err as Error).message}`)
    }
  }
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
    url,
    rate: number('rate', v.rate, 0, 0),
    durationMs,
    count,
    connections: integer('connections', v.connections, 32, 1, 10_000),
    mode,
    batchSize: integer('batch-size', v['batch-size'], 100, 1, 10_000),
    ads,
    zipf: number('zipf', v.zipf, 1.1, 0, 10),
    viewers: integer('viewers', v.viewers, 100_000, 1),
    botShare: number('bot-share', v['bot-share'], vast ? DEFAULT_VAST_BOT_SHARE : 0.01, 0, 1),
    repeatShare: number('repeat-share', v['repeat-share'], 0.02, 0, 1),
    retryShare: number('retry-share', v['retry-share'], vast ? DEFAULT_MIX.repeatShare : 0.01, 0, 1),
    errorShare: number('error-share', v['error-share'], DEFAULT_MIX.errorShare, 0, MAX_ERROR_SHARE),
    clickShare: number('click-share', v['click-share'], DEFAULT_MIX.clickShare, 0, FUNNEL[0]?.share ?? 1),
    vastFetch: v['vast-fetch'] ?? false,
    vastUrl,
    trackingKeys,
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
      'error-share': { type: 'string' },
      'click-share': { type: 'string' },
      'vast-fetch': { type: 'boolean' },
      'vast-url': { type: 'string' },
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
  const mode = overrides.mode === undefined ? [] : ['--mode', overrides.mode]
  return { ...(parseLoadArgs(mode) as LoadOptions), progress: false, ...overrides }
}
