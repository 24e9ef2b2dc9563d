// What a load run reports: the summary at the end and the progress each second, and their text form.
import { AD_EVENTS, type AdEvent } from '@adtrack/contracts'

export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** One event type of a vast run. */
export interface VastEventCounts {
  /** Requests fired for it the first time (repeats not included). */
  sent: number
  /** Second firings of the same URL. */
  repeats: number
  /** Distinct (impression, event) pairs acknowledged (pixel 2xx, click-through 302). */
  acknowledged: number
  /** Of those, from impressions with a bot user agent: stored, counted as invalid. */
  bots: number
  /** acknowledged - bots: what GET /ads/analytics should count as valid (clicks: at most, see below). */
  expected: number
}

/** What a vast run played and had acknowledged, for comparing with GET /ads/analytics. */
export interface VastCounts {
  /** Where the tokens came from. */
  tokens: 'minted with the development key' | 'minted with TRACKING_TOKEN_KEYS' | 'fetched tags'
  /** Impressions begun (with --vast-fetch: tags asked for). */
  impressions: number
  /** With --vast-fetch: tags that answered no ad (empty VAST) or failed; those impressions fired nothing. */
  tagsWithoutAd: number
  /** With --vast-fetch: planned events whose URL the tag did not have, so not fired. */
  notInTag: Partial<Record<AdEvent, number>>
  byEvent: Record<AdEvent, VastEventCounts>
  /** Valid errors expected, by VAST code (`unknown`: [ERRORCODE] left literal). */
  expectedErrors: Record<string, number>
  /** Per ad: the valid counts expected by event, as GET /ads/analytics?ad_id= reports them. */
  expectedByAd: Record<string, Partial<Record<AdEvent, number>>>
}

export interface LoadSummary {
  url: string
  mode: 'single' | 'batch' | 'vast'
  batchSize: number
  connections: number
  targetRate: number
  seconds: number
  requests: number
  /**
   * Clicks sent for the first time (retries with the same click_id not included). Vast mode: tracking
   * requests (pixels and click-throughs) fired the first time.
   */
  clicksSent: number
  /**
   * Of those, clicks acknowledged (2xx, or "accepted" in a batch reply). Vast mode: distinct (impression,
   * event) pairs acknowledged, the figure the pipeline must store.
   */
  clicksAcknowledged: number
  /** clicksAcknowledged per second of the run. */
  clicksPerSecond: number
  requestsPerSecond: number
  /**
   * Request latency, ms, from the request's intended send time to its full reply: with a target rate,
   * a request that had to wait for a free connection counts that wait (no coordinated omission); flat
   * out, the intended time is the actual send, so this equals serviceTimeMs.
   */
  latencyMs: LatencySummary
  /** Request latency, ms, from the actual send to the full reply (the server's service time). */
  serviceTimeMs: LatencySummary
  /**
   * Requests the target rate called for before the end that never started because every connection was
   * busy (0 flat out, or when stopped by --count). Their wait is in no percentile: see it as a shortfall.
   */
  requestsNotSent: number
  /** Requests by HTTP status ("network" for a connection error). */
  statuses: Record<string, number>
  /** Rejected items of batch replies, by "statusCode code". */
  itemErrors: Record<string, number>
  /** Retries (same click_id again; vast mode: the same URL again) sent. */
  retries: number
  ads: number
  vast?: VastCounts
}

export interface Progress {
  second: number
  clicksPerSecond: number
  requestsPerSecond: number
  /** Latency percentiles of the requests finished in this second, ms, from their intended send time. */
  p50: number
  p99: number
  /** The same from the actual send (service time). */
  serviceP50: number
  serviceP99: number
  statuses: Record<string, number>
  /** Requests of this second answered other than 2xx or failed on the network, plus refused batch items. */
  errors: number
  acknowledged: number
  /** What clicksPerSecond counts, when not clicks ("events": distinct (impression, event) pairs). */
  unit?: string
}

export function formatProgress(p: Progress): string {
  const statuses = Object.entries(p.statuses)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const service =
    p.serviceP99 !== p.p99
      ? ` (service p50 ${p.serviceP50.toFixed(1)} ms p99 ${p.serviceP99.toFixed(1)} ms)`
      : ''
  return `[${String(p.second).padStart(4)}s] ${Math.round(p.clicksPerSecond)} ${p.unit ?? 'clicks'}/s  ${Math.round(p.requestsPerSecond)} req/s  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms${service}  errors ${p.errors}  ${statuses || '-'}  acked ${p.acknowledged}`
}

export function formatSummary(s: LoadSummary): string {
  if (s.vast) return formatVastSummary(s, s.vast)
  return [
    `target      ${s.url} (${s.mode}${s.mode === 'batch' ? `, ${s.batchSize} clicks per request` : ''}), ${s.connections} connections, ${s.targetRate > 0 ? `${s.targetRate} clicks/s` : 'as fast as possible'}`,
    `duration    ${s.seconds.toFixed(1)} s over ${s.ads} ads`,
    `clicks      ${s.clicksAcknowledged} acknowledged of ${s.clicksSent} sent (${Math.round(s.clicksPerSecond)}/s), ${s.retries} retries`,
    ...requestLines(s),
    ...(s.mode === 'batch' ? [`item errors ${kv(s.itemErrors)}`] : []),
  ].join('\n')
}

/** Requests, their latency (and, at a target rate, service time and what was not sent), statuses. */
function requestLines(s: LoadSummary): string[] {
  return [
    `requests    ${s.requests} (${Math.round(s.requestsPerSecond)}/s)`,
    `latency     ${latencyLine(s.latencyMs)}${s.targetRate > 0 ? ' (from the intended send time)' : ''}`,
    ...(s.targetRate > 0
      ? [
          `service     ${latencyLine(s.serviceTimeMs)} (from the actual send)`,
          `not sent    ${s.requestsNotSent} requests due before the end (every connection busy)`,
        ]
      : []),
    `statuses    ${kv(s.statuses)}`,
  ]
}

const kv = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || '-'

function formatVastSummary(s: LoadSummary, v: VastCounts): string {
  const rows = AD_EVENTS.map((e) => [e === 'click' ? 'click (through)' : e, v.byEvent[e]] as const)
  const col = (x: string | number, w: number) => String(x).padStart(w)
  return [
    `target      ${s.url} (vast, tokens ${v.tokens}), ${s.connections} connections, ${s.targetRate > 0 ? `${s.targetRate} requests/s` : 'as fast as possible'}`,
    `duration    ${s.seconds.toFixed(1)} s over ${s.ads} ads`,
    `impressions ${v.impressions}${v.tagsWithoutAd > 0 ? ` (${v.tagsWithoutAd} tags without an ad or failed)` : ''}`,
    `events      ${s.clicksAcknowledged} (impression, event) acknowledged of ${s.clicksSent} requests fired (${Math.round(s.clicksPerSecond)}/s), ${s.retries} repeated URLs`,
    ...requestLines(s),
    ...(Object.keys(v.notInTag).length > 0
      ? [`not in tag  ${kv(v.notInTag as Record<string, number>)}`]
      : []),
    '',
    `${'event'.padEnd(16)}${col('fired', 9)}${col('repeats', 9)}${col('acked', 9)}${col('bots', 7)}${col('expected', 10)}`,
    ...rows.map(
      ([name, c]) =>
        `${name.padEnd(16)}${col(c.sent, 9)}${col(c.repeats, 9)}${col(c.acknowledged, 9)}${col(c.bots, 7)}${col(c.expected, 10)}`,
    ),
    '',
    `errors by code (expected) ${kv(v.expectedErrors)}`,
    '',
    'acked: distinct (impression, event) pairs acknowledged; expected: those without a bot user agent,',
    'what GET /ads/analytics adds (summed over the ads; per ad in --json): impressions, events.<name>,',
    'errors by code, and at most click_count (the click rules, repeat and budget, may refuse some',
    'click-throughs). Bots show in invalid_event_count and invalid_clicks.bot.',
  ].join('\n')
}

const latencyLine = (l: LatencySummary) =>
  `p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms`
