import { type InvalidReason, noInvalidClicks } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'

/** The whole system's traffic in one minute, every ad together. */
export interface MinuteTraffic {
  /** Valid clicks. */
  clicks: number
  invalidClicks: Record<InvalidReason, number>
  /** Valid impressions and complete events. */
  impressions: number
  completes: number
  /** Valid events of every type (impressions included), and invalid ones. */
  events: number
  invalidEvents: number
}

export const noTraffic = (): MinuteTraffic => ({
  clicks: 0,
  invalidClicks: noInvalidClicks(),
  impressions: 0,
  completes: 0,
  events: 0,
  invalidEvents: 0,
})

/**
 * The whole system's traffic per minute, from the worker's per-minute rollups (click_minutes,
 * event_minutes): exact, and read by their minute index, so the cost grows with the ads that had traffic
 * in the range, never with the clicks or events themselves.
 */
export class SystemTraffic {
  constructor(private readonly sql: Sql) {}

  /** Traffic per minute start (epoch ms) in [from, to); minutes without any are left out. */
  async minutes(from: number, to: number): Promise<Map<number, MinuteTraffic>> {
    const range = { from: new Date(from), to: new Date(to) }
    const [clicks, events] = await Promise.all([
      this.sql<
        { minute: Date; valid: number; bot: number; repeat: number; over: number; inactive: number }[]
      >`
        select minute, sum(valid)::int as valid, sum(invalid_bot)::int as bot,
               sum(invalid_repeat)::int as repeat, sum(invalid_over_budget)::int as over,
               sum(invalid_inactive_ad)::int as inactive
        from click_minutes where minute >= ${range.from} and minute < ${range.to}
        group by minute`,
      this.sql<{ minute: Date; impressions: number; completes: number; valid: number; invalid: number }[]>`
        select minute,
               coalesce(sum(valid) filter (where event = 'impression'), 0)::int as impressions,
               coalesce(sum(valid) filter (where event = 'complete'), 0)::int as completes,
               sum(valid)::int as valid, sum(invalid)::int as invalid
        from event_minutes where minute >= ${range.from} and minute < ${range.to}
        group by minute`,
    ])
    const out = new Map<number, MinuteTraffic>()
    const minute = (at: Date) => {
      const found = out.get(at.getTime()) ?? noTraffic()
      out.set(at.getTime(), found)
      return found
    }
    for (const r of clicks) {
      const m = minute(r.minute)
      m.clicks = r.valid
      m.invalidClicks = { bot: r.bot, repeat: r.repeat, over_budget: r.over, inactive_ad: r.inactive }
    }
    for (const r of events) {
      Object.assign(minute(r.minute), {
        impressions: r.impressions,
        completes: r.completes,
        events: r.valid,
        invalidEvents: r.invalid,
      })
    }
    return out
  }
}
