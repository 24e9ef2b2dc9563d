import {
  type AdMedia,
  PLAYBACK_EVENTS,
  type PlaybackEvent,
  TRACKING_QUERY,
  trackingPaths,
  VAST_EVENT_NAMES,
} from '@adtrack/contracts'
import { VAST_MACROS } from '@adtrack/service-runtime/vast-macros'

// The VAST 4.2 tags analytics-api serves, as pure functions of the ad and the serve: no I/O, so every
// escaping and ordering rule is tested without a server. The element order follows IAB's VAST 4.2 XSD
// (its sequences are ordered: an InLine's AdSystem, Error, Impression, AdServingId, AdTitle, Creatives;
// a Linear's TrackingEvents, Duration, MediaFiles, VideoClicks; ClickTracking before ClickThrough).

export const VAST_VERSION = '4.2'
/** The XSD's targetNamespace; a tag without it is not valid against IAB's schema. */
export const VAST_NAMESPACE = 'http://www.iab.com/VAST'
/** What `<AdSystem>` names: the ad server that made the tag. */
export const AD_SYSTEM = 'ad-tracking'

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

/** The standard "no ad" answer (a VAST element without an Ad). */
export const EMPTY_VAST = `${XML_DECLARATION}<VAST version="${VAST_VERSION}" xmlns="${VAST_NAMESPACE}"/>\n`

/** What a tag needs of an ad: only active ads with a video get one. */
export interface VastAd {
  id: string
  title: string
  media: AdMedia
}

/** One serve: the impression minted for it and where players reach the tracking routes. */
export interface VastServe {
  impressionId: string
  /** The signed impression token every URL carries. */
  token: string
  /** PUBLIC_BASE_URL: absolute http(s), maybe with a path, no query. */
  publicBaseUrl: string
}

/** Every tracking URL of one serve, absolute, with the token and the macros players substitute. */
export interface TrackingUrls {
  impression: string
  error: string
  events: Record<PlaybackEvent, string>
  clickThrough: string
  clickTracking: string
}

export function trackingUrls(adId: string, serve: VastServe): TrackingUrls {
  const base = serve.publicBaseUrl.replace(/\/+$/, '')
  // Macros stay literal (`[CACHEBUSTING]`): the player finds them by their brackets and substitutes them.
  // The token is URL-safe already; encoding it anyway keeps that from being an assumption here.
  const url = (path: string, macros: Partial<Record<keyof typeof TRACKING_QUERY, string>>) =>
    `${base}${path}?${TRACKING_QUERY.token}=${encodeURIComponent(serve.token)}${Object.entries(macros)
      .map(([name, macro]) => `&${TRACKING_QUERY[name as keyof typeof TRACKING_QUERY]}=${macro}`)
      .join('')}`
  // NOTE: [CACHEBUSTING] on every pixel so that no browser or proxy cache answers in ingest's place;
  // [ADPLAYHEAD] where the moment in the ad tells something (an error, a playback event, the click).
  const pixel = { cacheBusting: VAST_MACROS.cacheBusting }
  const timed = { adPlayhead: VAST_MACROS.adPlayhead, ...pixel }
  return {
    impression: url(trackingPaths.pixel(adId, 'impression'), pixel),
    error: url(trackingPaths.pixel(adId, 'error'), { errorCode: VAST_MACROS.errorCode, ...timed }),
    events: Object.fromEntries(
      PLAYBACK_EVENTS.map((event) => [event, url(trackingPaths.pixel(adId, event), timed)]),
    ) as Record<PlaybackEvent, string>,
    // A navigation, not a ping: nothing to defeat a cache for (a 302 is not stored without headers saying so).
    clickThrough: url(trackingPaths.clickThrough(adId), { adPlayhead: VAST_MACROS.adPlayhead }),
    // The same click as the click-through: downstream both are the click `imp:<impression id>`, counted once.
    clickTracking: url(trackingPaths.pixel(adId, 'click'), timed),
  }
}

/** The InLine tag of one serve of an ad. */
export function inlineVast(ad: VastAd, serve: VastServe): string {
  const urls = trackingUrls(ad.id, serve)
  const { media } = ad
  const tracking = PLAYBACK_EVENTS.map(
    (event) =>
      `              <Tracking event="${VAST_EVENT_NAMES[event]}">${cdata(urls.events[event])}</Tracking>`,
  )
  return [
    XML_DECLARATION.trimEnd(),
    `<VAST version="${VAST_VERSION}" xmlns="${VAST_NAMESPACE}">`,
    `  <Ad id="${attr(ad.id)}">`,
    '    <InLine>',
    `      <AdSystem>${text(AD_SYSTEM)}</AdSystem>`,
    `      <Error>${cdata(urls.error)}</Error>`,
    `      <Impression id="${attr(serve.impressionId)}">${cdata(urls.impression)}</Impression>`,
    // VAST 4.1+: one id per serve, the same one the tracking pixels carry (in their token).
    `      <AdServingId>${text(serve.impressionId)}</AdServingId>`,
    `      <AdTitle>${text(ad.title)}</AdTitle>`,
    '      <Creatives>',
    `        <Creative id="${attr(ad.id)}" sequence="1">`,
    // NOTE: required since VAST 4.0. Our ads have no registered creative id (Ad-ID and the like), which the
    // spec says to state as `unknown` in both places rather than invent a registry.
    '          <UniversalAdId idRegistry="unknown">unknown</UniversalAdId>',
    '          <Linear>',
    '            <TrackingEvents>',
    ...tracking,
    '            </TrackingEvents>',
    `            <Duration>${vastDuration(media.duration_seconds)}</Duration>`,
    '            <MediaFiles>',
    `              <MediaFile delivery="progressive" type="${attr(media.type)}" width="${int(media.width)}" height="${int(media.height)}">${cdata(media.url)}</MediaFile>`,
    '            </MediaFiles>',
    '            <VideoClicks>',
    `              <ClickTracking id="${attr(serve.impressionId)}">${cdata(urls.clickTracking)}</ClickTracking>`,
    `              <ClickThrough id="${attr(serve.impressionId)}">${cdata(urls.clickThrough)}</ClickThrough>`,
    '            </VideoClicks>',
    '          </Linear>',
    '        </Creative>',
    '      </Creatives>',
    '    </InLine>',
    '  </Ad>',
    '</VAST>',
    '',
  ].join('\n')
}

/**
 * VAST's time format, HH:MM:SS.mmm (XSD `xs:time`), rounded to the millisecond. Ads last at most an hour
 * (MAX_MEDIA_DURATION_SECONDS), far below the day that `xs:time` can express.
 */
export function vastDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds >= 86_400) {
    throw new RangeError(`vastDuration: ${seconds} is not a duration of 0 to 24 hours`)
  }
  const ms = Math.round(seconds * 1000)
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor((ms % 3_600_000) / 60_000)
  const s = Math.floor((ms % 60_000) / 1000)
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`
}

// Characters XML 1.0 cannot carry at all, escaped or not (§2.2): C0 controls but tab, LF and CR, lone
// surrogates, U+FFFE and U+FFFF. The admin API refuses most of them in titles, but a tag must stay
// well-formed whatever a row holds, so they become U+FFFD here.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu
const xmlChars = (value: string) => value.replace(NOT_XML_CHAR, '\uFFFD')

/** Element content: `&`, `<` and `>` escaped (`>` too, so `]]>` in a title cannot read as markup). */
export function text(value: string): string {
  return xmlChars(value).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** An attribute value in double quotes: as text, plus both quotes. */
export function attr(value: string): string {
  return text(value).replaceAll('"', '&quot;').replaceAll("'", '&apos;')
}

/**
 * A URL as VAST wants it, in a CDATA section (players and IAB's samples expect one). A `]]>` inside would
 * end the section early, so it is split across two sections: `]]` closes the first, `>` opens the next.
 */
export function cdata(value: string): string {
  return `<![CDATA[${xmlChars(value).replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`expected an integer, got ${value}`)
  return String(value)
}
