import { type TStringOptions, Type } from 'typebox'

/**
 * What free text from a client may never hold: NUL and the other C0 controls but tab, DEL and the C1
 * controls, and lone UTF-16 surrogates (a JSON `"\ud800"` escape parses to one; it is not Unicode).
 *
 * TRICKY: PostgreSQL refuses NUL in text (`invalid byte sequence for encoding "UTF8": 0x00`) and a lone
 * surrogate cannot be encoded as UTF-8 either, so one such value accepted at the edge fails the worker's
 * whole batch and stalls a partition. Controls are refused with them: nothing a person types needs them,
 * and they spoil logs and dashboards.
 *
 * It is a regular-expression class body, to be composed into JSON Schema `pattern`s: Fastify's Ajv and
 * TypeBox's Compile both build patterns with the `u` flag, under which `\uD800-\uDFFF` matches only a
 * surrogate that is not half of a pair (emoji and other astral characters pass).
 */
export const FORBIDDEN_TEXT_CLASS = '\\u0000-\\u0008\\u000A-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF'

/** The lone-surrogate part of FORBIDDEN_TEXT_CLASS: only a UTF-16 string (JavaScript's) can hold one. */
const SURROGATE_RANGE = '\\uD800-\\uDFFF'

/**
 * A pattern as the published API description gives it: without the surrogate range, which regular
 * expression engines over Unicode text (Rust's, which schemathesis validates with; Python's) cannot hold,
 * and which makes such a tool drop the whole pattern. What such a client sends is Unicode text, so it
 * never carries a lone surrogate; a JavaScript client that sends one (a `"\ud800"` JSON escape) is still
 * refused by the full pattern the server validates with.
 */
export const publishedPattern = (pattern: string): string => pattern.replaceAll(SURROGATE_RANGE, '')

/** Any text without a forbidden character (the empty string too; minLength says otherwise). */
export const FREE_TEXT_PATTERN = `^[^${FORBIDDEN_TEXT_CLASS}]*$`

/**
 * The white space JavaScript's `\s` knows, minus what FORBIDDEN_TEXT_CLASS already forbids. Spelled out
 * so that NON_BLANK_TEXT_PATTERN has no two ways to match a character: it stays linear on a long refused
 * value instead of backtracking quadratically.
 */
const ALLOWED_SPACE_CLASS = '\\t \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF'

/** Free text with at least one character other than a space. */
export const NON_BLANK_TEXT_PATTERN = `^[${ALLOWED_SPACE_CLASS}]*[^\\s${FORBIDDEN_TEXT_CLASS}][^${FORBIDDEN_TEXT_CLASS}]*$`

/** An absolute http(s) URL with a host, with neither white space nor a forbidden character anywhere. */
export const HTTP_URL_PATTERN = `^https?://[^\\s/?#${FORBIDDEN_TEXT_CLASS}]+([/?#][^\\s${FORBIDDEN_TEXT_CLASS}]*)?$`

/** One ad id as contracts' AdId has it: 1-64 letters, digits, dot, underscore, colon or hyphen. */
const AD_ID_IN_LIST = '[A-Za-z0-9][A-Za-z0-9._:-]{0,63}'
/** 1 to 100 comma-separated ad ids (GET /analytics/ads; 100 is dashboard.ts's MAX_ANALYTICS_ADS). */
export const AD_IDS_PATTERN = `^${AD_ID_IN_LIST}(,${AD_ID_IN_LIST}){0,99}$`

/**
 * What a value failing one of these patterns is missing, in words: validators report the pattern, which
 * tells a person little. (A map rather than a keyword in the schemas, which stay plain JSON Schema.)
 */
export const PATTERN_MEANINGS: Readonly<Record<string, string>> = {
  [FREE_TEXT_PATTERN]: 'must not contain control characters or invalid Unicode',
  [NON_BLANK_TEXT_PATTERN]:
    'must contain a character other than a space, and no control characters or invalid Unicode',
  [HTTP_URL_PATTERN]:
    'must be an absolute http:// or https:// URL, without spaces, control characters or invalid Unicode',
  [AD_IDS_PATTERN]:
    'must be 1 to 100 ad ids separated by commas, each 1-64 letters, digits, dot, underscore, colon or hyphen',
}

/** A string schema that holds free text: FREE_TEXT_PATTERN, with the given bounds and description. */
export const FreeText = (options: Omit<TStringOptions, 'pattern'> = {}) =>
  Type.String({ ...options, pattern: FREE_TEXT_PATTERN })

const FORBIDDEN_TEXT = new RegExp(`[${FORBIDDEN_TEXT_CLASS}]`, 'gu')

/**
 * A request header made fit to store: the forbidden characters removed, then cut to `maxLength`. Headers
 * that are only stored (the user agent) are cleaned rather than refused, since a click is worth more than
 * its user agent's oddities. Node decodes header bytes as latin1, so C1 controls (0x80-0x9F) do arrive.
 */
export function cleanHeaderText(value: string, maxLength: number): string {
  const cleaned = value.replace(FORBIDDEN_TEXT, '').slice(0, maxLength)
  // Cutting between the halves of a pair would leave a lone surrogate behind.
  const last = cleaned.charCodeAt(cleaned.length - 1)
  return last >= 0xd800 && last <= 0xdbff ? cleaned.slice(0, -1) : cleaned
}

/** What a failed `pattern` means, for an error message; undefined for a pattern without known words. */
export const patternMeaning = (pattern: unknown): string | undefined =>
  typeof pattern === 'string' ? PATTERN_MEANINGS[pattern] : undefined
