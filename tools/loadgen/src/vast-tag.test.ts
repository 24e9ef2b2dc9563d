import { trackingPaths } from '@adtrack/contracts'
import {
  mintImpression,
  parseTrackingKeys,
  verifyImpression,
} from '@adtrack/service-runtime/impression-token'
import { describe, expect, it } from 'vitest'
import { mintedUrls } from './vast-load.js'
import { impressionIdOf, pathOf, readVastTag } from './vast-tag.js'

const TOKEN = 'v1.dev.JPEH3DrRpyJzpyA4sGPsjQ.1750000000000.26OTY4Uk73Ucvs-RxWFIBQ.7'
const base = `http://localhost:8080/track/7`

// The shape of an InLine tag: URLs in CDATA (as our tag writes them) and one as escaped text.
const TAG = `<?xml version="1.0" encoding="UTF-8"?>
<VAST version="4.2" xmlns="http://www.iab.com/VAST">
  <Ad id="7"><InLine>
    <AdSystem>adtrack</AdSystem><AdTitle>Demo</AdTitle>
    <Impression id="imp"><![CDATA[${base}/impression?t=${TOKEN}&cb=[CACHEBUSTING]]]></Impression>
    <Error><![CDATA[${base}/error?t=${TOKEN}&error_code=[ERRORCODE]&cb=[CACHEBUSTING]]]></Error>
    <Creatives><Creative><Linear>
      <Duration>00:00:12.500</Duration>
      <TrackingEvents>
        <Tracking event="start"><![CDATA[${base}/start?t=${TOKEN}&ad_playhead=[ADPLAYHEAD]]]></Tracking>
        <Tracking event="firstQuartile">${base}/first_quartile?t=${TOKEN}&amp;cb=[CACHEBUSTING]</Tracking>
        <Tracking event="thirdQuartile"><![CDATA[${base}/third_quartile?t=${TOKEN}]]></Tracking>
        <Tracking event="progress" offset="00:00:05"><![CDATA[${base}/ignored]]></Tracking>
      </TrackingEvents>
      <VideoClicks><ClickThrough id="ct"><![CDATA[${base}/clickthrough?t=${TOKEN}]]></ClickThrough></VideoClicks>
      <MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360"><![CDATA[http://localhost:8080/media/demo.mp4]]></MediaFile></MediaFiles>
    </Linear></Creative></Creatives>
  </InLine></Ad>
</VAST>`

describe('readVastTag', () => {
  it('reads each event URL, in CDATA or escaped, and the duration; events VAST names its own way are mapped', () => {
    const tag = readVastTag(TAG)
    expect(tag?.durationSeconds).toBe(12.5)
    expect(tag?.urls).toEqual({
      impression: `${base}/impression?t=${TOKEN}&cb=[CACHEBUSTING]`,
      error: `${base}/error?t=${TOKEN}&error_code=[ERRORCODE]&cb=[CACHEBUSTING]`,
      start: `${base}/start?t=${TOKEN}&ad_playhead=[ADPLAYHEAD]`,
      first_quartile: `${base}/first_quartile?t=${TOKEN}&cb=[CACHEBUSTING]`,
      third_quartile: `${base}/third_quartile?t=${TOKEN}`,
      click: `${base}/clickthrough?t=${TOKEN}`,
    })
  })

  it('answers undefined for the empty VAST (no ad)', () => {
    expect(readVastTag('<?xml version="1.0"?>\n<VAST version="4.2"/>')).toBeUndefined()
    expect(readVastTag('<VAST version="4.2"><Error><![CDATA[http://x/e]]></Error></VAST>')).toBeUndefined()
  })

  it('finds the impression id in a URL token, and a URL path for the host under load', () => {
    expect(impressionIdOf(`${base}/impression?t=${TOKEN}&cb=1`)).toBe('JPEH3DrRpyJzpyA4sGPsjQ')
    expect(impressionIdOf(`${base}/impression?cb=1`)).toBeUndefined()
    expect(pathOf(`${base}/start?t=${TOKEN}&cb=[CACHEBUSTING]`)).toBe(
      `/track/7/start?t=${TOKEN}&cb=[CACHEBUSTING]`,
    )
    expect(pathOf('/track/7/start?t=x')).toBe('/track/7/start?t=x')
  })
})

describe('mintedUrls', () => {
  it('builds every URL of the tag with a token the services verify, on the paths they serve', () => {
    const keys = parseTrackingKeys('k1:0123456789abcdef0123456789abcdef')
    const now = Date.now()
    const { token, impressionId } = mintImpression(keys, 'ad.7', now)
    const urls = mintedUrls('/base', 'ad.7', token)
    // The shapes of analytics-api's tag (apps/analytics-api/src/vast-xml.ts).
    expect(urls.impression).toBe(
      `/base${trackingPaths.pixel('ad.7', 'impression')}?t=${token}&cb=[CACHEBUSTING]`,
    )
    expect(urls.click).toBe(`/base${trackingPaths.clickThrough('ad.7')}?t=${token}&ad_playhead=[ADPLAYHEAD]`)
    expect(urls.error).toBe(
      `/base${trackingPaths.pixel('ad.7', 'error')}?t=${token}&error_code=[ERRORCODE]&ad_playhead=[ADPLAYHEAD]&cb=[CACHEBUSTING]`,
    )
    expect(urls.midpoint).toBe(
      `/base${trackingPaths.pixel('ad.7', 'midpoint')}?t=${token}&ad_playhead=[ADPLAYHEAD]&cb=[CACHEBUSTING]`,
    )
    expect(Object.keys(urls)).toHaveLength(13)
    const t = new URLSearchParams((urls.impression as string).split('?')[1]).get('t')
    expect(verifyImpression(keys, t, { adId: 'ad.7', now, maxAgeMs: 1000, maxSkewMs: 0 })).toEqual({
      ok: true,
      adId: 'ad.7',
      impressionId,
      servedAt: now,
    })
  })
})
