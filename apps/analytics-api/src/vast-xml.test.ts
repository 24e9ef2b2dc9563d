import { PLAYBACK_EVENTS, TRACKING_QUERY, VAST_EVENT_NAMES } from '@adtrack/contracts'
import { describe, expect, it } from 'vitest'
import { childNames, parseVast, tagUrls, vastElement, vastElements } from './testing/vast-tag.js'
import {
  attr,
  cdata,
  EMPTY_VAST,
  inlineVast,
  trackingUrls,
  VAST_NAMESPACE,
  type VastAd,
  type VastServe,
  vastDuration,
} from './vast-xml.js'

const ad: VastAd = {
  id: 'ad-1',
  title: 'Winter sale',
  media: {
    url: 'https://cdn.example.com/w.mp4',
    type: 'video/mp4',
    width: 640,
    height: 360,
    duration_seconds: 15,
  },
}
const serve: VastServe = {
  impressionId: 'JPEH3DrRpyJzpyA4sGPsjQ',
  token: 'v1.k1.JPEH3DrRpyJzpyA4sGPsjQ.1750000000000.26OTY4Uk73Ucvs-RxWFIBQ.ad-1',
  publicBaseUrl: 'https://track.example.com',
}
const tag = (over: Partial<VastAd> = {}, serveOver: Partial<VastServe> = {}) =>
  parseVast(inlineVast({ ...ad, ...over }, { ...serve, ...serveOver }))

describe('vastDuration', () => {
  it.each([
    [15, '00:00:15.000'],
    [0.001, '00:00:00.001'],
    [15.5, '00:00:15.500'],
    [59.9996, '00:01:00.000'],
    [61.25, '00:01:01.250'],
    [3599.999, '00:59:59.999'],
    [3600, '01:00:00.000'],
    [0.1 + 0.2, '00:00:00.300'],
  ])('%s s is %s', (seconds, expected) => {
    expect(vastDuration(seconds)).toBe(expected)
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 86_400])('refuses %s', (seconds) => {
    expect(() => vastDuration(seconds)).toThrow(RangeError)
  })
})

describe('escaping', () => {
  it.each([
    'Tom & Jerry <b>"big"</b> \'sale\'',
    ']]> <![CDATA[ x ]]>',
    '<?xml version="1.0"?><VAST version="2.0"/>',
    '&amp; &lt; &#0; &unknown;',
    'émoji 🎬 and RTL \u202Eevil',
  ])('an ad title reads back exactly: %j', (title) => {
    expect(vastElement(tag({ title }), 'AdTitle').textContent).toBe(title)
  })

  it('replaces what XML cannot carry at all, so the tag stays well-formed', () => {
    const title = `a\u0000b\u0008c\uFFFEd\uD800e\tf`
    expect(vastElement(tag({ title }), 'AdTitle').textContent).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\tf')
  })

  it('keeps a ]]> inside a URL from leaving its CDATA section', () => {
    const url = 'https://cdn.example.com/a]]><Injected/>]]>.mp4?x=1&y=<2>'
    const doc = tag({ media: { ...ad.media, url } })
    expect(vastElement(doc, 'MediaFile').textContent).toBe(url)
    expect(vastElements(doc, 'Injected')).toHaveLength(0)
    expect(cdata('a]]>b')).toBe('<![CDATA[a]]]]><![CDATA[>b]]>')
  })

  it('escapes both quotes and the markup characters in attributes', () => {
    expect(attr(`"'<>&`)).toBe('&quot;&apos;&lt;&gt;&amp;')
  })

  it('a base URL with a path keeps it, and a trailing slash does not double', () => {
    const urls = trackingUrls('ad-1', { ...serve, publicBaseUrl: 'https://example.com/ads-api/' })
    expect(urls.impression).toMatch(/^https:\/\/example\.com\/ads-api\/track\/ad-1\/impression\?t=/)
  })
})

describe('inlineVast', () => {
  it('is a VAST 4.2 InLine in the IAB namespace, in the order of the 4.2 schema', () => {
    const doc = tag()
    const root = doc.documentElement
    expect(root?.localName).toBe('VAST')
    expect(root?.namespaceURI).toBe(VAST_NAMESPACE)
    expect(root?.getAttribute('version')).toBe('4.2')
    expect(vastElement(doc, 'Ad').getAttribute('id')).toBe('ad-1')
    expect(childNames(vastElement(doc, 'InLine'))).toEqual([
      'AdSystem',
      'Error',
      'Impression',
      'AdServingId',
      'AdTitle',
      'Creatives',
    ])
    expect(childNames(vastElement(doc, 'Creative'))).toEqual(['UniversalAdId', 'Linear'])
    expect(childNames(vastElement(doc, 'Linear'))).toEqual([
      'TrackingEvents',
      'Duration',
      'MediaFiles',
      'VideoClicks',
    ])
    expect(childNames(vastElement(doc, 'VideoClicks'))).toEqual(['ClickTracking', 'ClickThrough'])
    expect(vastElement(doc, 'AdServingId').textContent).toBe(serve.impressionId)
    expect(vastElement(doc, 'UniversalAdId').getAttribute('idRegistry')).toBe('unknown')
  })

  it("carries the ad's media and duration", () => {
    const doc = tag({
      media: {
        url: 'https://cdn.example.com/v.webm',
        type: 'video/webm',
        width: 1920,
        height: 1080,
        duration_seconds: 30.25,
      },
    })
    const file = vastElement(doc, 'MediaFile')
    expect(file.textContent).toBe('https://cdn.example.com/v.webm')
    expect(file.getAttribute('delivery')).toBe('progressive')
    expect(file.getAttribute('type')).toBe('video/webm')
    expect(file.getAttribute('width')).toBe('1920')
    expect(file.getAttribute('height')).toBe('1080')
    expect(vastElement(doc, 'Duration').textContent).toBe('00:00:30.250')
  })

  it('lists a <Tracking> for every playback event, by its VAST name, each to its own pixel', () => {
    const tracking = vastElements(tag(), 'Tracking')
    expect(tracking.map((t) => t.getAttribute('event'))).toEqual(
      PLAYBACK_EVENTS.map((e) => VAST_EVENT_NAMES[e]),
    )
    for (const [i, event] of PLAYBACK_EVENTS.entries()) {
      const url = new URL(tracking[i]?.textContent ?? '')
      expect(url.pathname).toBe(`/track/ad-1/${event}`)
      expect(url.searchParams.get(TRACKING_QUERY.adPlayhead)).toBe('[ADPLAYHEAD]')
      expect(url.searchParams.get(TRACKING_QUERY.cacheBusting)).toBe('[CACHEBUSTING]')
    }
  })

  it('puts the token in every URL, absolute on the public base URL, with the macros players fill', () => {
    const urls = tagUrls(tag())
    expect(urls).toHaveLength(2 + PLAYBACK_EVENTS.length + 2)
    for (const { what, url } of urls) {
      expect(url, what).toMatch(/^https:\/\/track\.example\.com\/track\/ad-1\//)
      expect(new URL(url).searchParams.get(TRACKING_QUERY.token), what).toBe(serve.token)
    }
    const byWhat = Object.fromEntries(urls.map(({ what, url }) => [what, new URL(url)]))
    expect(byWhat.Impression?.pathname).toBe('/track/ad-1/impression')
    expect(byWhat.Error?.pathname).toBe('/track/ad-1/error')
    expect(byWhat.Error?.searchParams.get(TRACKING_QUERY.errorCode)).toBe('[ERRORCODE]')
    expect(byWhat.ClickThrough?.pathname).toBe('/track/ad-1/clickthrough')
    expect(byWhat.ClickTracking?.pathname).toBe('/track/ad-1/click')
    // The macros stay literal in the tag: the player finds and replaces them.
    expect(inlineVast(ad, serve)).toContain(`error_code=[ERRORCODE]`)
  })

  it('encodes an ad id that a path would otherwise misread', () => {
    const urls = trackingUrls('a:b.c', serve)
    expect(new URL(urls.clickThrough).pathname).toBe('/track/a%3Ab.c/clickthrough')
  })
})

it('the empty VAST is a well-formed VAST 4.2 without an ad', () => {
  const doc = parseVast(EMPTY_VAST)
  expect(doc.documentElement?.localName).toBe('VAST')
  expect(doc.documentElement?.getAttribute('version')).toBe('4.2')
  expect(childNames(doc.documentElement as never)).toEqual([])
})
