import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AD_EVENTS, type AdEvent } from '@adtrack/contracts'
import {
  mintImpression,
  parseTrackingKeys,
  verifyImpression,
} from '@adtrack/service-runtime/impression-token'
import { afterEach, describe, expect, it } from 'vitest'
import { loadDefaults } from './args.js'
import { runLoad } from './loadgen.js'
import { mintedUrls } from './vast-load.js'

// The vast workload against a stand-in HTTP server that answers as ingest-api's tracking routes do
// (a pixel 200, a click-through 302) and records what it was sent, so that the summary's counts can be
// checked against what actually arrived. The real routes are exercised by the bench's smoke test.

const SECRET_KEYS = 'k1:0123456789abcdef0123456789abcdef'
const keys = parseTrackingKeys(SECRET_KEYS)
const ROUTE = /^\/track\/([^/]+)\/([a-z_]+)\?(.*)$/

interface Seen {
  path: string
  adId: string
  event: AdEvent
  impressionId: string
  bot: boolean
}

let server: Server | undefined
afterEach(async () => {
  server?.close()
  server = undefined
})

async function stub(answer: (req: IncomingMessage) => { status: number; body?: string }) {
  const seen: Seen[] = []
  const problems: string[] = []
  server = createServer((req, res) => {
    const { status, body } = answer(req)
    const m = ROUTE.exec(req.url ?? '')
    if (m) {
      const [, adId, name, query] = m as unknown as [string, string, string, string]
      const event = (name === 'clickthrough' ? 'click' : name) as AdEvent
      const verdict = verifyImpression(keys, new URLSearchParams(query).get('t'), {
        adId,
        now: Date.now(),
        maxAgeMs: 60_000,
        maxSkewMs: 0,
      })
      if (!verdict.ok) problems.push(`${req.url}: ${verdict.reason}`)
      else
        seen.push({
          path: req.url as string,
          adId,
          event,
          impressionId: verdict.impressionId,
          bot: /bot|python/i.test(req.headers['user-agent'] ?? ''),
        })
    }
    res.writeHead(status, status === 302 ? { location: 'https://advertiser.example/' } : {})
    res.end(body ?? '')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, problems }
}

const trackingReply = (req: IncomingMessage) => ({ status: req.url?.includes('/clickthrough?') ? 302 : 200 })

const vastOptions = (url: string) =>
  loadDefaults({
    mode: 'vast',
    url,
    ads: ['1', '2', 'ad.3'],
    count: 400,
    durationMs: undefined,
    connections: 4,
    botShare: 0.1,
    retryShare: 0.1,
    clickShare: 0.3,
    errorShare: 0.05,
    trackingKeys: SECRET_KEYS,
    seed: 5,
  })

describe('runLoad --mode vast', () => {
  it('counts exactly the distinct (impression, event) pairs the server acknowledged, bots and repeats apart', async () => {
    const s = await stub(trackingReply)
    const acks: string[] = []
    const summary = await runLoad(vastOptions(s.url), { onAck: (ids) => acks.push(...ids) })
    const v = summary.vast
    if (!v) throw new Error('no vast counts')
    expect(s.problems).toEqual([])
    expect(v.impressions).toBe(400)
    expect(v.tokens).toBe('minted with TRACKING_TOKEN_KEYS')

    const distinct = new Map<string, Seen>()
    for (const r of s.seen) distinct.set(`${r.impressionId}:${r.event}`, r)
    expect(summary.clicksAcknowledged).toBe(distinct.size)
    expect(new Set(acks)).toEqual(new Set(distinct.keys()))
    expect(acks).toHaveLength(distinct.size)
    // Every repeat is the very URL fired before, and nothing else repeats.
    expect(s.seen.length - new Set(s.seen.map((r) => r.path)).size).toBe(summary.retries)
    expect(summary.retries).toBeGreaterThan(0)
    expect(summary.statuses).toEqual({
      'pixel 200': s.seen.filter((r) => r.event !== 'click').length,
      'clickthrough 302': s.seen.filter((r) => r.event === 'click').length,
    })

    for (const event of AD_EVENTS) {
      const pairs = [...distinct.values()].filter((r) => r.event === event)
      const bots = pairs.filter((r) => r.bot).length
      expect(v.byEvent[event], event).toMatchObject({
        acknowledged: pairs.length,
        bots,
        expected: pairs.length - bots,
      })
      for (const ad of ['1', '2', 'ad.3']) {
        const perAd = pairs.filter((r) => r.adId === ad && !r.bot).length
        expect(v.expectedByAd[ad]?.[event] ?? 0, `${ad} ${event}`).toBe(perAd)
      }
    }
    expect(v.byEvent.impression.acknowledged).toBe(400)
    expect(v.byEvent.impression.bots).toBeGreaterThan(0)
    expect(v.byEvent.click.acknowledged).toBeGreaterThan(0)
    expect(v.byEvent.complete.acknowledged).toBeLessThan(v.byEvent.start.acknowledged)
    expect(Object.values(v.expectedErrors).reduce((a, b) => a + b, 0)).toBe(v.byEvent.error.expected)

    // Each impression's requests arrive in its plan's order: the impression first.
    const firstEvent = new Map<string, AdEvent>()
    for (const r of s.seen) if (!firstEvent.has(r.impressionId)) firstEvent.set(r.impressionId, r.event)
    expect(new Set(firstEvent.values())).toEqual(new Set(['impression']))
  })

  it('acknowledges nothing the server refused, and counts it as an error', async () => {
    const s = await stub((req) => (req.url?.includes('/start?') ? { status: 503 } : trackingReply(req)))
    const progress: number[] = []
    const summary = await runLoad(vastOptions(s.url), { onProgress: (p) => progress.push(p.errors) })
    expect(summary.vast?.byEvent.start).toMatchObject({ acknowledged: 0, expected: 0 })
    expect(summary.vast?.byEvent.start.sent).toBeGreaterThan(300)
    expect(summary.statuses['pixel 503']).toBeGreaterThan(300)
    expect(summary.vast?.byEvent.impression.acknowledged).toBe(400)
  })

  it('with --vast-fetch, fires the URLs of each tag at the host under load, and skips ads without one', async () => {
    let served = 0
    const s = await stub((req) => {
      const tag = /^\/ads\/([^/]+)\/vast$/.exec(req.url ?? '')
      if (!tag) return trackingReply(req)
      if (tag[1] === 'paused') return { status: 200, body: '<VAST version="4.2"/>' }
      served++
      // A real token, minted as analytics-api would; the URLs name the public host, not the stub.
      const minted = mintImpression(keys, tag[1] as string, Date.now())
      const urls = mintedUrls('https://public.example', tag[1] as string, minted.token)
      const body = `<VAST version="4.2"><Ad><InLine>
        <Impression><![CDATA[${urls.impression}]]></Impression>
        <Error><![CDATA[${urls.error}]]></Error>
        <Linear><Duration>00:00:20</Duration><TrackingEvents>
        <Tracking event="start"><![CDATA[${urls.start}]]></Tracking>
        <Tracking event="firstQuartile"><![CDATA[${urls.first_quartile}]]></Tracking>
        </TrackingEvents><VideoClicks><ClickThrough><![CDATA[${urls.click}]]></ClickThrough></VideoClicks></Linear>
        </InLine></Ad></VAST>`
      return { status: 200, body }
    })
    const summary = await runLoad(
      { ...vastOptions(s.url), ads: ['1', 'paused'], zipf: 0, vastFetch: true, count: 200 },
      {},
    )
    const v = summary.vast
    expect(s.problems).toEqual([])
    expect(v?.tokens).toBe('fetched tags')
    expect(v?.impressions).toBe(200)
    expect(v?.tagsWithoutAd).toBe(summary.statuses['tag 200 no ad'])
    expect(v?.tagsWithoutAd).toBeGreaterThan(50)
    expect(summary.statuses['tag 200']).toBe(served)
    expect(v?.byEvent.impression.acknowledged).toBe(served)
    // The tag lists no midpoint: planned midpoints were not fired, and are reported as such.
    expect(v?.byEvent.midpoint.sent).toBe(0)
    expect(v?.notInTag.midpoint).toBeGreaterThan(0)
    expect(v?.byEvent.first_quartile.acknowledged).toBeGreaterThan(0)
    expect(new Set(s.seen.map((r) => r.adId))).toEqual(new Set(['1']))
  })
})
