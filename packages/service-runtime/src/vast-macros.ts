// VAST 4.2 macros (IAB VAST 4.2 §6.1) that tracking URLs carry: the player replaces each `[NAME]` with a
// value before firing the pixel, or, if it does not know the macro, sends it as it stands, often
// percent-encoded (`%5BERRORCODE%5D`). The readers below take a query parameter's value in either form
// and return undefined for anything that is not a usable value, so a literal macro never becomes a number.

/** The literal macros, as a tag's URLs carry them before the player substitutes them. */
export const VAST_MACROS = {
  /** A random number a player puts in to defeat caches; nothing to read in it. */
  cacheBusting: '[CACHEBUSTING]',
  errorCode: '[ERRORCODE]',
  adPlayhead: '[ADPLAYHEAD]',
  contentPlayhead: '[CONTENTPLAYHEAD]',
} as const

// NOTE: [CACHEBUSTING] has no reader on purpose: its only job is to make each pixel URL unique so that no
// browser or proxy cache answers in the ingest's place; its value says nothing about the event, and the
// impression id in the token already identifies it.

/** Longest value worth parsing; a playhead is 12 characters, an error code 3. */
const MAX_VALUE_LENGTH = 64

/** `[ERRORCODE]`: a VAST error code (100-999, VAST 4.2 §2.3.6.3), or undefined when literal or invalid. */
export function readErrorCode(value: unknown): number | undefined {
  const text = substituted(value)
  if (text === undefined || !/^[1-9][0-9]{2}$/.test(text)) return undefined
  return Number(text)
}

/** `[ADPLAYHEAD]`: seconds into the ad, or undefined when literal or invalid. */
export function readAdPlayhead(value: unknown): number | undefined {
  return readPlayhead(value)
}

/** `[CONTENTPLAYHEAD]`: seconds into the content the ad plays in, or undefined when literal or invalid. */
export function readContentPlayhead(value: unknown): number | undefined {
  return readPlayhead(value)
}

// VAST's time format, HH:MM:SS.mmm; the milliseconds are optional in what players send. Minutes and
// seconds must be below 60: a value that breaks that was not made by a player following the spec.
const PLAYHEAD = /^([0-9]{2,3}):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,3}))?$/

function readPlayhead(value: unknown): number | undefined {
  const text = substituted(value)
  const match = text === undefined ? null : PLAYHEAD.exec(text)
  if (!match) return undefined
  const [, hours, minutes, seconds, fraction = ''] = match
  const ms = Number(fraction.padEnd(3, '0'))
  return Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds) + ms / 1000
}

/**
 * The value a player put in place of a macro, or undefined when there is none: missing, not a string,
 * too long, or still a macro (`[NAME]`, in any percent-encoding the query parser left behind).
 */
function substituted(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE_LENGTH) return undefined
  let text = value.trim()
  // Some players encode twice; the query parser undoes one level, so undo the rest (bounded).
  for (let i = 0; i < 2 && text.includes('%'); i++) {
    try {
      text = decodeURIComponent(text)
    } catch {
      return undefined
    }
  }
  if (text.startsWith('[') || text.endsWith(']')) return undefined
  return text
}
