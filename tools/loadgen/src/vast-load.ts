// --mode vast: impressions of the ads played as VAST players play them, many at once, each firing its
// plan (vast-plan.ts) one request at a time, in order, through the same engine as clicks.
import { AD_EVENTS, type AdEvent, PLAYBACK_EVENTS, TRACKING_QUERY, trackingPaths } from '@adtrack/contracts'
import {
  DEVELOPMENT_TRACKING_KEYS,
  mintImpression,
  parseTrackingKeys,
  type TrackingKeys,
} from '@adtrack/service-runtime/impression-token'
import { VAST_MACROS } from '@adtrack/service-runtime/vast-macros'
import { Pool } from 'undici'
import { fetchAdIds, withRecord } from './ads.js'
import type { LoadOptions } from './args.js'
import { type Outcome, runEngine, runFigures, type Workload } from './engine.js'
import type { LoadHooks } from './loadgen.js'
import { mulberry32, ZipfSampler } from './random.js'
import type { LoadSummary, VastCounts, VastEventCounts } from './summary.js'
import { BOTS, BROWSERS } from './traffic.js'
import { DEFAULT_MIX, fillMacros, type PlannedFire, planImpression, type VastMix } from './vast-plan.js'
import { impressionIdOf, pathOf, readVastTag } from './vast-tag.js'

/** The ad's length when no tag says (minted tokens): for [ADPLAYHEAD] only. */
const DEFAULT_DURATION_SECONDS = 30

/** One impression being played. */
interface Playing {
  adId: string
  bot: boolean
  userAgent: string
  /** Known once minted, or once the tag is in. */
  impressionId: string | undefined
  /** Each event's URL (macros unfilled); undefined until the tag is in (--vast-fetch). */
  urls: Partial<Record<AdEvent, string>> | undefined
  durationSeconds: number
  plan: PlannedFire[]
  /** Index of the next step of the plan. */
  step: number
  /** The last URL fired, for a repeat. */
  lastPath: string | undefined
  /** Events of this impression acknowledged so far. */
  acked: Set<AdEvent>
}

/**
 * The URLs analytics-api's tag lists for one impression (the same paths, query names and macros), the
 * token minted here, relative to `base` (the URL under load).
 */
export function mintedUrls(base: string, adId: string, token: string): Partial<Record<AdEvent, string>> {
  const url = (path: string, macros: Partial<Record<keyof typeof TRACKING_QUERY, string>>) =>
    `${base}${path}?${TRACKING_QUERY.token}=${encodeURIComponent(token)}${Object.entries(macros)
      .map(([name, macro]) => `&${TRACKING_QUERY[name as keyof typeof TRACKING_QUERY]}=${macro}`)
      .join('')}`
  const pixel = { cacheBusting: VAST_MACROS.cacheBusting }
  const timed = { adPlayhead: VAST_MACROS.adPlayhead, ...pixel }
  const urls: Partial<Record<AdEvent, string>> = {
    impression: url(trackingPaths.pixel(adId, 'impression'), pixel),
    error: url(trackingPaths.pixel(adId, 'error'), { errorCode: VAST_MACROS.errorCode, ...timed }),
    click: url(trackingPaths.clickThrough(adId), { adPlayhead: VAST_MACROS.adPlayhead }),
  }
  for (const e of PLAYBACK_EVENTS) urls[e] = url(trackingPaths.pixel(adId, e), timed)
  return urls
}

const emptyCounts = (): VastEventCounts => ({ sent: 0, repeats: 0, acknowledged: 0, bots: 0, expected: 0 })

export async function runVast(opts: LoadOptions, hooks: LoadHooks = {}): Promise<LoadSummary> {
  const target = new URL(opts.url)
  const base = target.pathname.replace(/\/$/, '')
  const tags = new URL(opts.vastUrl ?? opts.url)
  const tagBase = tags.pathname.replace(/\/$/, '')
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1 })
  const tagPool =
    tags.origin === target.origin
      ? pool
      : new Pool(tags.origin, { connections: opts.connections, pipelining: 1 })
  const keys: TrackingKeys | undefined = opts.vastFetch
    ? undefined
    : parseTrackingKeys(opts.trackingKeys === '' ? DEVELOPMENT_TRACKING_KEYS : opts.trackingKeys)
  try {
    return await withRecord(opts.record, async (record) => {
      const ads = opts.ads ?? (await fetchAdIds(tagPool, tagBase))
      const random = mulberry32(opts.seed)
      const zipf = new ZipfSampler(ads.length, opts.zipf, random)
      const mix: VastMix = {
        ...DEFAULT_MIX,
        errorShare: opts.errorShare,
        clickShare: opts.clickShare,
        repeatShare: opts.retryShare,
      }
      const byEvent = Object.fromEntries(AD_EVENTS.map((e) => [e, emptyCounts()])) as Record<
        AdEvent,
        VastEventCounts
      >
      const counts: VastCounts = {
        tokens: opts.vastFetch
          ? 'fetched tags'
          : opts.trackingKeys === ''
            ? 'minted with the development key'
            : 'minted with TRACKING_TOKEN_KEYS',
        impressions: 0,
        tagsWithoutAd: 0,
        notInTag: {},
        byEvent,
        expectedErrors: {},
        expectedByAd: {},
      }
      // Impressions playing at once: enough that one impression's requests are rarely in flight together
      // and that the ads' requests interleave as many players' do.
      const players = Math.max(64, opts.connections * 4)
      const limit = opts.count ?? Number.POSITIVE_INFINITY
      const ready: Playing[] = []
      let open = 0
      let firedFirst = 0
      let repeats = 0

      const begin = (): Playing => {
        counts.impressions++
        open++
        const adId = ads[zipf.next()] as string
        const bot = random() < opts.botShare
        const list = bot ? BOTS : BROWSERS
        const p: Playing = {
          adId,
          bot,
          userAgent: list[Math.floor(random() * list.length)] as string,
          impressionId: undefined,
          urls: undefined,
          durationSeconds: DEFAULT_DURATION_SECONDS,
          plan: planImpression(random, mix),
          step: 0,
          lastPath: undefined,
          acked: new Set(),
        }
        if (keys) {
          const minted = mintImpression(keys, adId, Date.now())
          p.impressionId = minted.impressionId
          p.urls = mintedUrls(base, adId, minted.token)
        }
        return p
      }

      /** Back in line for its next step, or done. */
      const after = (p: Playing) => {
        if (p.urls !== undefined && p.step < p.plan.length) ready.push(p)
        else open--
      }

      const fetchTag = async (p: Playing): Promise<Outcome> => {
        const res = await tagPool.request({
          method: 'GET',
          path: `${tagBase}/ads/${encodeURIComponent(p.adId)}/vast`,
          headers: { 'user-agent': p.userAgent },
        })
        const xml = await res.body.text()
        const tag = res.statusCode === 200 ? readVastTag(xml) : undefined
        if (!tag) {
          counts.tagsWithoutAd++
          return {
            status: res.statusCode === 200 ? 'tag 200 no ad' : `tag ${res.statusCode}`,
            ok: false,
            acknowledged: 0,
          }
        }
        const urls = Object.fromEntries(Object.entries(tag.urls).map(([e, u]) => [e, pathOf(u as string)]))
        p.urls = urls
        p.impressionId = impressionIdOf(urls.impression ?? '') ?? `tag-${counts.impressions}`
        if (tag.durationSeconds !== undefined) p.durationSeconds = tag.durationSeconds
        p.plan = p.plan.filter((s) => {
          if (urls[s.event] !== undefined) return true
          counts.notInTag[s.event] = (counts.notInTag[s.event] ?? 0) + (s.repeat ? 0 : 1)
          return false
        })
        return { status: 'tag 200', ok: true, acknowledged: 0 }
      }

      const fire = async (p: Playing, s: PlannedFire): Promise<Outcome> => {
        const c = byEvent[s.event]
        let path: string
        if (s.repeat && p.lastPath !== undefined) {
          path = p.lastPath
          c.repeats++
          repeats++
        } else {
          path = fillMacros(p.urls?.[s.event] as string, {
            cacheBusting: String(Math.floor(random() * 1e8)).padStart(8, '0'),
            errorCode: s.errorCode,
            adPlayhead: s.progress === undefined ? undefined : s.progress * p.durationSeconds,
          })
          p.lastPath = path
          c.sent++
          firedFirst++
        }
        const kind = s.event === 'click' ? 'clickthrough' : 'pixel'
        const res = await pool.request({ method: 'GET', path, headers: { 'user-agent': p.userAgent } })
        await res.body.dump()
        const ok =
          kind === 'clickthrough' ? res.statusCode === 302 : res.statusCode >= 200 && res.statusCode < 300
        let acknowledged = 0
        if (ok && !p.acked.has(s.event)) {
          p.acked.add(s.event)
          acknowledged = 1
          c.acknowledged++
          if (p.bot) c.bots++
          else {
            c.expected++
            const perAd = counts.expectedByAd[p.adId] ?? {}
            counts.expectedByAd[p.adId] = perAd
            perAd[s.event] = (perAd[s.event] ?? 0) + 1
            if (s.event === 'error') {
              const code = s.errorCode === undefined ? 'unknown' : String(s.errorCode)
              counts.expectedErrors[code] = (counts.expectedErrors[code] ?? 0) + 1
            }
          }
          hooks.onAck?.([`${p.impressionId}:${s.event}`], performance.now())
          record?.write(`${p.impressionId} ${s.event}\n`)
        }
        return { status: `${kind} ${res.statusCode}`, ok, acknowledged }
      }

      const play = async (p: Playing): Promise<Outcome> => {
        try {
          if (p.urls === undefined) return await fetchTag(p)
          return await fire(p, p.plan[p.step++] as PlannedFire)
        } finally {
          after(p)
        }
      }

      const vast: Workload = {
        next() {
          const fresh = counts.impressions < limit && (open < players || ready.length === 0)
          const p = fresh ? begin() : ready.shift()
          return p && (() => play(p))
        },
        more: () => counts.impressions < limit || open > 0,
        usedUp: () => counts.impressions >= limit && open === 0,
      }
      const r = await runEngine(
        {
          requestRate: opts.rate,
          connections: opts.connections,
          durationMs: opts.durationMs,
          unit: 'events',
        },
        vast,
        hooks,
      )
      return {
        url: `${target.origin}${base}/track`,
        mode: 'vast',
        batchSize: 1,
        connections: opts.connections,
        targetRate: opts.rate,
        ...runFigures(r, firedFirst),
        itemErrors: {},
        retries: repeats,
        ads: ads.length,
        vast: counts,
      }
    })
  } finally {
    await pool.close()
    if (tagPool !== pool) await tagPool.close()
  }
}
