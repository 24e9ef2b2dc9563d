// The search for the highest sustained end-to-end rate: the highest offered rate at which ingest
// acknowledges (almost) all that is offered and every acknowledged click is visible in the analytics
// API within 1 s (p99). Pure functions of the steps measured so far, so that they are tested without a run.

/** What one step of the search measured. Rates are clicks per second. */
export interface StepMeasure {
  /** Offered. */
  rate: number
  /** Acknowledged (2xx) per second of the step. */
  ackedRate: number
  /** Clicks that became visible per second while the load ran: what the pipeline kept up with. */
  visibleRate: number
  acknowledged: number
  /** Of the acknowledged clicks, how many became visible (before the wait for them timed out). */
  delivered: number
  deliveryP99Ms: number
}

export interface Verdict {
  pass: boolean
  /** Why it failed, in words; empty when it passed. */
  reasons: string[]
}

export const SUSTAINED = {
  /** Acknowledged share of the offered rate below which a rate is not sustained. */
  minAckedShare: 0.98,
  maxDeliveryP99Ms: 1000,
}

export function judgeStep(m: StepMeasure): Verdict {
  const reasons: string[] = []
  if (!(m.ackedRate >= m.rate * SUSTAINED.minAckedShare))
    reasons.push(
      `${Math.round(m.ackedRate)}/s acknowledged, under ${SUSTAINED.minAckedShare * 100}% of ${Math.round(m.rate)}/s offered`,
    )
  if (!(m.deliveryP99Ms <= SUSTAINED.maxDeliveryP99Ms))
    reasons.push(`delivery p99 ${Math.round(m.deliveryP99Ms)} ms over ${SUSTAINED.maxDeliveryP99Ms} ms`)
  if (m.delivered < m.acknowledged)
    reasons.push(`${m.acknowledged - m.delivered} acknowledged clicks not visible`)
  if (m.acknowledged === 0) reasons.push('nothing acknowledged')
  return { pass: reasons.length === 0, reasons }
}

export interface SearchOptions {
  /** Rates closer than this share of the failing rate count as found (default 0.05). */
  resolution?: number
  /** No step below this rate (default 1 click/s). */
  minRate?: number
}

/** `n` rounded to 3 significant digits, so that the rates tried read well. */
export function roundRate(n: number): number {
  if (!(n > 0)) return 0
  return Number(n.toPrecision(3))
}

/** A step that kept up with less than this share of its rate was bound by capacity, not by delays. */
const CLEARLY_SHORT = 0.9

/**
 * The rate to try next, or undefined when the search is over. The first step is the target; it only goes
 * down from there. While no rate has passed: if the lowest failing step clearly fell short (it kept up
 * with, i.e. acknowledged and made visible, under 90% of its rate), 90% of what it kept up with; else
 * (delivery too slow, at about the offered rate) half of it. Once one has passed: bisection between the
 * highest passing rate and the lowest failing one, or what a failing one kept up with if lower. Over when
 * the two are within `resolution` of each other.
 */
export function nextRate(steps: (StepMeasure & Verdict)[], opts: SearchOptions = {}): number | undefined {
  const resolution = opts.resolution ?? 0.05
  const minRate = opts.minRate ?? 1
  const failing = steps.filter((s) => !s.pass)
  if (failing.length === 0) return undefined
  const lo = Math.max(0, ...steps.filter((s) => s.pass).map((s) => s.rate))
  // A failing rate under a passing one is noise: the bracket is the passing rate and the failures above it.
  const above = failing.filter((s) => s.rate > lo)
  if (above.length === 0) return undefined
  const hiRate = Math.min(...above.map((s) => s.rate))
  const keptUp = Math.min(
    ...above.map((s) => Math.min(s.ackedRate, s.visibleRate)).filter((r) => Number.isFinite(r) && r > lo),
  )
  const hi = Math.min(hiRate, keptUp)
  let next: number
  if (lo === 0) {
    const lowest = above.reduce((a, b) => (b.rate < a.rate ? b : a))
    const kept = Math.min(lowest.ackedRate, lowest.visibleRate)
    next = kept > 0 && kept < CLEARLY_SHORT * lowest.rate ? CLEARLY_SHORT * kept : hi / 2
  } else {
    if ((hi - lo) / hi <= resolution) return undefined
    next = (lo + hi) / 2
  }
  next = roundRate(next)
  if (next < minRate || next <= lo || next >= hiRate) return undefined
  return next
}
