// What one simulated VAST impression fires, in order: a pure function of a seeded random source, so that
// the drop-off and the mix are tested without a server, and the same seed plays the same impressions.
import type { AdEvent, PlaybackEvent } from '@adtrack/contracts'

/**
 * The share of impressions that reach each point of the ad, decreasing: every impression fires
 * `impression`; 95% start, 85% / 75% / 65% reach the quartiles, 60% complete. In the range that
 * industry reports give for pre-roll video (completion rates of 60-80%, most of the loss before the first
 * quartile), kept round so that a tester can check the counts by eye.
 */
export const FUNNEL: readonly { event: PlaybackEvent; share: number }[] = [
  { event: 'start', share: 0.95 },
  { event: 'first_quartile', share: 0.85 },
  { event: 'midpoint', share: 0.75 },
  { event: 'third_quartile', share: 0.65 },
  { event: 'complete', share: 0.6 },
]

/** Where each funnel event falls in the ad, as a fraction of its duration (for [ADPLAYHEAD]). */
const PROGRESS: Record<string, number> = {
  start: 0,
  first_quartile: 0.25,
  midpoint: 0.5,
  third_quartile: 0.75,
  complete: 1,
}

export interface VastMix {
  /** Impressions that fire `error` instead of `start` (the player could not play the media). */
  errorShare: number
  /** Impressions that click through (of those that start), at the point where they stop watching. */
  clickShare: number
  /** Tracking requests fired a second time with the same URL, as a player (or a proxy) retrying. */
  repeatShare: number
  /** Of the impressions that start, do not complete and do not click, the share that fire `skip`. */
  skipShare: number
  /** Impressions (of those that start) that pause, then resume if the ad plays on. */
  pauseShare: number
  /** Impressions (of those that start) that mute; half of them unmute later if the ad plays on. */
  muteShare: number
}

export const DEFAULT_MIX: VastMix = {
  errorShare: 0.02,
  clickShare: 0.015,
  repeatShare: 0.03,
  skipShare: 0.5,
  pauseShare: 0.05,
  muteShare: 0.08,
}

/** Error codes a player reports (VAST 4.2 §2.3.6.3): media timeout, unsupported type, undisplayable... */
export const ERROR_CODES = [400, 401, 402, 403, 405, 900] as const

/** One request of an impression. `click` is the click-through (GET .../clickthrough, answered 302). */
export interface PlannedFire {
  event: AdEvent
  /** A second firing of the previous step's URL: never a new (impression, event). */
  repeat: boolean
  /** For `error`: the code, or undefined to leave [ERRORCODE] literal as a player that does not know it. */
  errorCode?: number
  /** How far into the ad, as a fraction of its duration ([ADPLAYHEAD]); undefined for the impression. */
  progress?: number
}

/**
 * The requests one impression fires, in order. `random` returns [0, 1) (mulberry32 for a seed). One draw
 * decides how far the viewer watches, so the funnel's shares hold exactly in expectation and every
 * impression that reaches a quartile also fired the ones before it.
 */
export function planImpression(random: () => number, mix: VastMix = DEFAULT_MIX): PlannedFire[] {
  const steps: Omit<PlannedFire, 'repeat'>[] = [{ event: 'impression' }]
  const reach = random()
  const reached = FUNNEL.filter((f) => reach < f.share).map((f) => f.event)
  if (reached.length === 0) {
    const notStarting = 1 - (FUNNEL[0] as { share: number }).share
    if (random() < mix.errorShare / notStarting) {
      const literal = random() < 0.2
      const code = ERROR_CODES[Math.floor(random() * ERROR_CODES.length)] as number
      steps.push(literal ? { event: 'error', progress: 0 } : { event: 'error', errorCode: code, progress: 0 })
    }
    return withRepeats(steps, random, mix.repeatShare)
  }
  // Pause/resume and mute/unmute come after one of the playback events reached; a viewer who pauses or
  // mutes after the last one they reach never resumes or unmutes.
  const extras: Omit<PlannedFire, 'repeat'>[][] = reached.map(() => [])
  const pair = (first: PlaybackEvent, then: PlaybackEvent, thenShare: number) => {
    const at = Math.floor(random() * reached.length)
    const progress = PROGRESS[reached[at] as string] as number
    extras[at]?.push({ event: first, progress })
    if (at < reached.length - 1 && random() < thenShare) extras[at]?.push({ event: then, progress })
  }
  if (random() < mix.pauseShare) pair('pause', 'resume', 1)
  if (random() < mix.muteShare) pair('mute', 'unmute', 0.5)
  reached.forEach((event, i) => {
    steps.push({ event, progress: PROGRESS[event] as number }, ...(extras[i] ?? []))
  })
  const completed = reached.includes('complete')
  const startShare = (FUNNEL[0] as { share: number }).share
  // A viewer who clicks through leaves for the advertiser's page: no skip after it.
  const last = PROGRESS[reached[reached.length - 1] as string] as number
  if (random() < mix.clickShare / startShare) steps.push({ event: 'click', progress: last })
  else if (!completed && random() < mix.skipShare) steps.push({ event: 'skip', progress: last })
  return withRepeats(steps, random, mix.repeatShare)
}

function withRepeats(
  steps: Omit<PlannedFire, 'repeat'>[],
  random: () => number,
  repeatShare: number,
): PlannedFire[] {
  const out: PlannedFire[] = []
  for (const s of steps) {
    out.push({ ...s, repeat: false })
    if (random() < repeatShare) out.push({ ...s, repeat: true })
  }
  return out
}

/** Seconds as VAST's HH:MM:SS.mmm, what a player puts for [ADPLAYHEAD]. */
export function formatPlayhead(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000))
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`
}

export interface MacroValues {
  cacheBusting: string
  errorCode?: number | undefined
  adPlayhead?: number | undefined
}

/**
 * A tag's URL as a player fires it: each macro it knows replaced (raw or percent-encoded in the URL);
 * the others left as they stand, as players do ([ERRORCODE] without a code, [CONTENTPLAYHEAD] of a
 * player that has no content).
 */
export function fillMacros(url: string, values: MacroValues): string {
  const known: Record<string, string | undefined> = {
    CACHEBUSTING: values.cacheBusting,
    ERRORCODE: values.errorCode === undefined ? undefined : String(values.errorCode),
    ADPLAYHEAD:
      values.adPlayhead === undefined ? undefined : encodeURIComponent(formatPlayhead(values.adPlayhead)),
  }
  return url.replace(/\[([A-Z]+)\]|%5B([A-Z]+)%5D/gi, (whole, raw?: string, encoded?: string) => {
    const name = (raw ?? encoded ?? '').toUpperCase()
    return known[name] ?? whole
  })
}
