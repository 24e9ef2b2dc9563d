import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type SiteRoute, send } from './test-site.js'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..')
/** The demo ads' video (docs/development.md, "The demo video"): H.264 and AAC in MP4, 10 s. */
export const DEMO_VIDEO = join(repoRoot, 'apps/analytics-api/media/demo.mp4')
const DEMO_SECONDS = 10

// A 1x1 transparent GIF, as a pixel answers.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
export const STATIC_EVENTS = ['start', 'firstQuartile', 'midpoint', 'thirdQuartile', 'complete'] as const

/**
 * A VAST 4.2 tag written by hand, served by the test site with its pixels, media and click-through: the
 * player page checked on its own, without our services, so that a failure of the full test can be told
 * apart from a failure of the harness. Each pixel URL carries the macros a real tag does.
 */
export function staticTagRoutes(siteUrl: () => string): {
  routes: Record<string, SiteRoute>
  /** The `e` of every pixel request, in the order they arrived. */
  pixels: { event: string; query: URLSearchParams }[]
} {
  const pixels: { event: string; query: URLSearchParams }[] = []
  const pixel = (event: string, extra = '') =>
    `<![CDATA[${siteUrl()}/static/pixel?e=${event}&cb=[CACHEBUSTING]&ap=[ADPLAYHEAD]${extra}]]>`
  const tag = () => `<?xml version="1.0" encoding="UTF-8"?>
<VAST version="4.2" xmlns="http://www.iab.com/VAST">
  <Ad id="static">
    <InLine>
      <AdSystem>player-test</AdSystem>
      <AdTitle>Static test ad</AdTitle>
      <Impression id="imp">${pixel('impression')}</Impression>
      <Error>${pixel('error', '&code=[ERRORCODE]')}</Error>
      <Creatives>
        <Creative id="static-video">
          <UniversalAdId idRegistry="unknown">unknown</UniversalAdId>
          <Linear>
            <Duration>00:00:${String(DEMO_SECONDS).padStart(2, '0')}.000</Duration>
            <TrackingEvents>
${STATIC_EVENTS.map((e) => `              <Tracking event="${e}">${pixel(e)}</Tracking>`).join('\n')}
            </TrackingEvents>
            <VideoClicks>
              <ClickThrough id="static-click"><![CDATA[${siteUrl()}/static/clickthrough]]></ClickThrough>
            </VideoClicks>
            <MediaFiles>
              <MediaFile delivery="progressive" type="video/mp4" width="320" height="180"><![CDATA[${siteUrl()}/static/demo.mp4]]></MediaFile>
            </MediaFiles>
          </Linear>
        </Creative>
      </Creatives>
    </InLine>
  </Ad>
</VAST>
`
  return {
    pixels,
    routes: {
      '/static/vast.xml': (_req, res) => send(res, 200, 'application/xml', tag()),
      '/static/demo.mp4': async (_req, res) => send(res, 200, 'video/mp4', await readFile(DEMO_VIDEO)),
      '/static/pixel': (req, res) => {
        const query = new URL(req.url ?? '/', 'http://site').searchParams
        pixels.push({ event: query.get('e') ?? '', query })
        send(res, 200, 'image/gif', PIXEL)
      },
      '/static/clickthrough': (_req, res) => {
        res.writeHead(302, { location: `${siteUrl()}/landing/static`, 'cache-control': 'no-store' })
        res.end()
      },
    },
  }
}
