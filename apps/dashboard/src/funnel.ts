import type { AdAnalytics, PlaybackEvent } from '@adtrack/contracts'

/** The quartile funnel's steps after the impression, in the order a player reaches them. */
const STEPS = [
  ['start', 'Start'],
  ['first_quartile', '25%'],
  ['midpoint', '50%'],
  ['third_quartile', '75%'],
  ['complete', 'Complete'],
] as const satisfies readonly (readonly [PlaybackEvent, string])[]

export interface FunnelStep {
  key: 'impression' | (typeof STEPS)[number][0]
  label: string
  count: number
  /** count / impressions; null without impressions. */
  ofImpressions: number | null
  /** The share of the previous step's count lost before this one; null for the first step or after 0. */
  dropOff: number | null
}

/** impression → start → 25% → 50% → 75% → complete, each with its drop-off from the step before. */
export function funnel(a: Pick<AdAnalytics, 'impressions' | 'events'>): FunnelStep[] {
  const steps: FunnelStep[] = [
    { key: 'impression', label: 'Impression', count: a.impressions, ofImpressions: null, dropOff: null },
  ]
  for (const [key, label] of STEPS) {
    const prev = steps[steps.length - 1] as FunnelStep
    const count = a.events[key]
    steps.push({
      key,
      label,
      count,
      ofImpressions: a.impressions > 0 ? count / a.impressions : null,
      // TRICKY: a later step can exceed an earlier one (a player that skipped firing `start`), which would
      // be a negative drop-off; it is shown as it is rather than clamped, so the data's oddity stays visible.
      dropOff: prev.count > 0 ? 1 - count / prev.count : null,
    })
  }
  if (steps[0]) steps[0].ofImpressions = a.impressions > 0 ? 1 : null
  return steps
}
