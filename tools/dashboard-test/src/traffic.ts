import { randomBytes } from 'node:crypto'
import { type AdEvent, trackingPaths } from '@adtrack/contracts'
import { mintImpression, type TrackingKeys } from '@adtrack/service-runtime/impression-token'

// Traffic as players and viewers send it, through the gateway: clicks on POST /ads/click, and a VAST
// player's pixels with tokens minted by the services' own keys (what GET /ads/:id/vast would have put
// in the tag). Each viewer is a browser of its own, so the invalid-traffic rules leave it alone.

/** A desktop Chrome's user agent, made distinct per viewer: the services read IP + user agent as the viewer. */
export const browserAgent = (viewer: string) =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 viewer/${viewer}`

export async function sendClick(base: string, adId: string): Promise<Response> {
  const viewer = randomBytes(6).toString('hex')
  return fetch(`${base}/ads/click`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': browserAgent(viewer) },
    body: JSON.stringify({ ad_id: adId, playback_time: 3, viewer_id: `v-${viewer}` }),
  })
}

/** One view of an ad: its impression, then each event in order, each pixel answered before the next. */
export async function sendView(
  base: string,
  keys: TrackingKeys,
  adId: string,
  events: AdEvent[],
): Promise<void> {
  const { token } = mintImpression(keys, adId, Date.now())
  const agent = browserAgent(randomBytes(6).toString('hex'))
  for (const event of ['impression', ...events] as AdEvent[]) {
    const q = new URLSearchParams({ t: token, cb: String(Math.floor(Math.random() * 1e8)) })
    const res = await fetch(`${base}${trackingPaths.pixel(adId, event)}?${q}`, {
      headers: { 'user-agent': agent },
    })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`pixel ${event} of ad ${adId} answered ${res.status}`)
  }
}

export const FULL_VIEW: AdEvent[] = ['start', 'first_quartile', 'midpoint', 'third_quartile', 'complete']
