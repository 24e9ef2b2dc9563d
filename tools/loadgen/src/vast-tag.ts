// Reads what a player needs from our VAST tag (GET /ads/:id/vast): the URL of each event, and the
// duration. Not a general VAST parser: regular expressions over the elements the tag writes
// (<Impression>, <Error>, <Tracking event="...">, <ClickThrough>, <Duration>), each URL in CDATA or as
// escaped text. Wrappers and several ads are not followed: the tag under test has one InLine ad.
import { type AdEvent, PLAYBACK_EVENTS, TRACKING_QUERY, VAST_EVENT_NAMES } from '@adtrack/contracts'

export interface TagUrls {
  /** Each event's URL template (macros not yet filled); `click` is the click-through. */
  urls: Partial<Record<AdEvent, string>>
  /** From <Duration>, when the tag gives one. */
  durationSeconds?: number
}

const BY_VAST_NAME = new Map<string, AdEvent>(PLAYBACK_EVENTS.map((e) => [VAST_EVENT_NAMES[e], e]))

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** An element's text: the CDATA section's content, or the text with XML's entities decoded. */
function textOf(inner: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(inner)
  if (cdata) return (cdata[1] as string).trim()
  return inner
    .replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
      e.startsWith('#x')
        ? String.fromCodePoint(Number.parseInt(e.slice(2), 16))
        : e.startsWith('#')
          ? String.fromCodePoint(Number(e.slice(1)))
          : (ENTITIES[e] as string),
    )
    .trim()
}

/** The tag's URLs, or undefined when it has no ad (the empty `<VAST version="4.2"/>`, or no <InLine>). */
export function readVastTag(xml: string): TagUrls | undefined {
  if (!/<InLine[\s>]/.test(xml)) return undefined
  const urls: Partial<Record<AdEvent, string>> = {}
  const first = (event: AdEvent, inner: string) => {
    const url = textOf(inner)
    if (url !== '' && urls[event] === undefined) urls[event] = url
  }
  for (const m of xml.matchAll(/<(Impression|Error|ClickThrough)(?:\s[^>]*)?>([\s\S]*?)<\/\1>/g)) {
    const name = m[1] as string
    first(name === 'Impression' ? 'impression' : name === 'Error' ? 'error' : 'click', m[2] as string)
  }
  for (const m of xml.matchAll(
    /<Tracking\s[^>]*?event\s*=\s*["']([A-Za-z]+)["'][^>]*>([\s\S]*?)<\/Tracking>/g,
  )) {
    const event = BY_VAST_NAME.get(m[1] as string)
    if (event) first(event, m[2] as string)
  }
  const duration = /<Duration>\s*(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s*<\/Duration>/.exec(xml)
  if (!duration) return { urls }
  const [, h, min, s, ms = '0'] = duration
  return {
    urls,
    durationSeconds: Number(h) * 3600 + Number(min) * 60 + Number(s) + Number(ms.padEnd(3, '0')) / 1000,
  }
}

/** The impression id in a tracking URL's token (`v1.<key>.<impression id>.…`), or undefined. */
export function impressionIdOf(url: string): string | undefined {
  const query = url.indexOf('?')
  if (query < 0) return undefined
  const token = new URLSearchParams(url.slice(query + 1)).get(TRACKING_QUERY.token)
  const id = token?.split('.')[2]
  return id && /^[A-Za-z0-9_-]{22}$/.test(id) ? id : undefined
}

/** `url`'s path and query, for a pool bound to the origin under load (the tag names the public one). */
export function pathOf(url: string): string {
  try {
    const u = new URL(url)
    return `${u.pathname}${u.search}`
  } catch {
    return url.startsWith('/') ? url : `/${url}`
  }
}
