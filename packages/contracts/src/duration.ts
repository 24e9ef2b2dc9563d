const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go-style durations, as the old system's READ_TIMEOUT=10s: `500ms`, `10s`, `1m30s`, `2h`. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'
const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g

/** Milliseconds in a duration string; throws on anything DURATION_PATTERN refuses. */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new Error(`invalid duration "${text}": use e.g. 500ms, 10s, 1m30s`)
  }
  let total = 0
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number)
  }
  return Math.round(total)
}
