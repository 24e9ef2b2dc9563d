// How numbers read on the page: one place, so the overview, the list and an ad's page agree.

const counts = new Intl.NumberFormat('en-US')

/** 12345 → "12,345". */
export const formatCount = (n: number): string => counts.format(n)

/**
 * A rate as a percentage: 0.0312 → "3.1%"; null (no impressions, no traffic) → "—". A rate above 1 is
 * shown as it is (clicks sent without an impression can make a CTR over 100%; the API does not cap it).
 */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—'
  const pct = rate * 100
  const digits = pct !== 0 && Math.abs(pct) < 10 ? 1 : 0
  return `${pct.toFixed(digits)}%`
}

/** A share of a whole, or null when the whole is zero. */
export const share = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null)

/** A time of day in the viewer's zone, for "updated at" lines: "14:05:09". */
export const formatClock = (date: Date): string =>
  date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })

/** The value a `<input type="datetime-local">` shows for `date`, in the viewer's zone, to the minute. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

/** The viewer's last local midnight: the start of "today" as they see it. */
export function localMidnight(now: Date): Date {
  const d = new Date(now)
  d.setHours(0, 0, 0, 0)
  return d
}
