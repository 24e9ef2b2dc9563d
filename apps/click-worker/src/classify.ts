import type { ClickMessage, InvalidReason } from '@adtrack/contracts'
import { isbot } from 'isbot'

export interface ClassifyRules {
  repeatWindowMs: number
  hourlyBudget: number
  /** Off only where every client is a script, e.g. the local demo stack driven by curl. */
  filterBots?: boolean
}

/** What Postgres already holds about the batch's viewers (see postgres-store's viewerHistory). */
export interface ViewerHistory {
  /** `${viewer}|${hourStartMs}` -> clicks stored for that viewer in that clock hour. */
  perHour: Map<string, number>
  /** `${viewer}|${adId}` -> time (ms) of that viewer's latest stored click on that ad. */
  lastClick: Map<string, number>
  /** Ads that accept clicks now. */
  activeAds: Set<string>
}

export interface Classified {
  click: ClickMessage
  viewerId: string
  reason: InvalidReason | null
}

const HOUR_MS = 3_600_000
export const hourKey = (viewer: string, atMs: number) => `${viewer}|${atMs - (atMs % HOUR_MS)}`

/**
 * isbot's verdict for a user agent, remembered: players send a few thousand distinct user agents, and
 * the one large regular expression behind isbot was the worker's costliest function (about an eighth of
 * its CPU). Bounded: when full, the oldest half is forgotten (Map keeps insertion order).
 */
export class BotVerdicts {
  private readonly seen = new Map<string, boolean>()

  constructor(private readonly capacity = 10_000) {}

  isBot(userAgent: string): boolean {
    let verdict = this.seen.get(userAgent)
    if (verdict === undefined) {
      verdict = isbot(userAgent)
      if (this.seen.size >= this.capacity) {
        let drop = this.seen.size >> 1
        for (const key of this.seen.keys()) {
          if (drop-- <= 0) break
          this.seen.delete(key)
        }
      }
      this.seen.set(userAgent, verdict)
    }
    return verdict
  }

  get size(): number {
    return this.seen.size
  }
}

const botVerdicts = new BotVerdicts()

/**
 * Decides for each click whether it counts, following the usual invalid-traffic rules, in this order:
 * a known bot or crawler user agent (the maintained `isbot` list); an ad that is paused or unknown; a
 * repeat click by the same viewer on the same ad within the repeat window; a viewer over its hourly
 * budget (all ads together). Clicks are taken in receive order, each one adding to the history that
 * the later ones are judged against.
 * NOTE: the reason is decided once, when the click is first stored; a redelivered click keeps the
 * reason Postgres holds, so Redis never sees two different verdicts for one click.
 */
export function classifyClicks(
  clicks: { click: ClickMessage; viewerId: string }[],
  history: ViewerHistory,
  rules: ClassifyRules,
): Classified[] {
  const perHour = new Map(history.perHour)
  const lastClick = new Map(history.lastClick)
  const ordered = clicks
    .map((c, i) => ({ ...c, i, at: Date.parse(c.click.received_at) }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
  const out: Classified[] = new Array(clicks.length)
  for (const { click, viewerId, at, i } of ordered) {
    const pairKey = `${viewerId}|${click.ad_id}`
    const hour = hourKey(viewerId, at)
    const previous = lastClick.get(pairKey)
    const used = perHour.get(hour) ?? 0
    let reason: InvalidReason | null = null
    if (rules.filterBots !== false && botVerdicts.isBot(click.user_agent)) reason = 'bot'
    else if (!history.activeAds.has(click.ad_id)) reason = 'inactive_ad'
    else if (previous !== undefined && at - previous >= 0 && at - previous < rules.repeatWindowMs)
      reason = 'repeat'
    else if (used >= rules.hourlyBudget) reason = 'over_budget'
    lastClick.set(pairKey, Math.max(previous ?? at, at))
    perHour.set(hour, used + 1)
    out[i] = { click, viewerId, reason }
  }
  return out
}

/**
 * An event's invalid-traffic reason: `bot` for a bot's user agent, by the same remembered isbot verdict
 * as its clicks; otherwise none. Repeats and budgets are click rules: an impression's events are already
 * at most one per type.
 */
export function eventInvalidReason(
  userAgent: string,
  rules: Pick<ClassifyRules, 'filterBots'>,
): 'bot' | null {
  return rules.filterBots !== false && botVerdicts.isBot(userAgent) ? 'bot' : null
}
