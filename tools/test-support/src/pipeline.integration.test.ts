import { seedDemoAds } from '@adtrack/db'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, stack, uniqueName, waitFor } from './helpers.js'
import { type RunningService, startService } from './services.js'

// The whole pipeline as it runs in production: three separate processes started from their build,
// real HTTP, Kafka, Postgres and Redis. Only the names (database, topic, group, key prefix) are private.
let db: Awaited<ReturnType<typeof createTestDatabase>>
let ingest: RunningService
let worker: RunningService
let analytics: RunningService

beforeAll(async () => {
  db = await createTestDatabase()
  await seedDemoAds(db.sql)
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: stack().redisUrl.replace(/^redis:\/\//, ''), // the old system's host:port form
    KAFKA_BROKERS: stack().kafkaBrokers.join(','),
    KAFKA_TOPIC: uniqueName('clicks'),
    KAFKA_TOPIC_PARTITIONS: '4',
    KAFKA_GROUP_ID: uniqueName('workers'),
    REDIS_KEY_PREFIX: `${uniqueName('e2e')}:`,
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '0', // 1,000 clicks from one address in a second is this test's point
  }
  ingest = await startService('ingest-api', env)
  ;[worker, analytics] = await Promise.all([
    startService('click-worker', env),
    startService('analytics-api', env),
  ])
})

afterAll(async () => {
  await Promise.all([ingest, worker, analytics].filter(Boolean).map((s) => s.stop()))
  await db?.drop()
})

interface Reply {
  ad_id: string
  click_id: string
  click_count: number
  unique_viewers: number
  invalid_click_count: number
  invalid_clicks: Record<string, number>
  message: string
}
const json = async <T = Reply>(res: Response): Promise<T> => (await res.json()) as T

async function clickCount(adId: string): Promise<number> {
  const res = await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=${adId}`)
  expect(res.status).toBe(200)
  return (await json(res)).click_count
}

/** Waits until the count reaches `expected`, then a little longer to catch an overshoot. */
async function settledCount(adId: string, expected: number): Promise<number> {
  let last: Reply | undefined
  try {
    await waitFor(
      async () => {
        const reply = await json(await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=${adId}`))
        last = reply
        return reply.click_count >= expected ? true : undefined
      },
      { timeoutMs: 30_000, what: `ad ${adId} to reach ${expected} clicks` },
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}; last reply ${JSON.stringify(last)}`)
  }
  await new Promise((r) => setTimeout(r, 1000))
  return clickCount(adId)
}

let viewer = 0
function postClick(body: string, headers: Record<string, string> = {}) {
  return fetch(`${ingest.httpUrl}/ads/click`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': `Mozilla/5.0 (X11; Linux x86_64) E2EViewer/${viewer++}`,
      ...headers,
    },
    body,
  })
}

describe('the pipeline, end to end', () => {
  it('serves the demo ads with the old shape', async () => {
    const res = await fetch(`${analytics.httpUrl}/ads`)
    const ads = await json<{ id: string }[]>(res)
    expect(ads.map((a) => a.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'])
    expect(Object.keys(ads[0] ?? {})).toEqual(expect.arrayContaining(['id', 'image_url', 'target_url']))
  })

  it('counts exactly 1,000 clicks sent concurrently over HTTP', async () => {
    const before = await clickCount('1')
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        // A browser-like user agent per click: 1,000 distinct viewers, none a bot, repeat or over budget.
        postClick(JSON.stringify({ ad_id: '1', playback_time: i % 3601 }), {
          'user-agent': `Mozilla/5.0 (X11; Linux x86_64) E2EPlayer/${i}`,
        }),
      ),
    )
    const statuses = replies.map((r) => r.status)
    expect(statuses.filter((s) => s === 202)).toHaveLength(1000)
    const bodies = await Promise.all(replies.map((r) => json(r)))
    expect(new Set(bodies.map((b) => b.click_id)).size).toBe(1000)
    expect(await settledCount('1', before + 1000)).toBe(before + 1000)
    const analyticsReply = await json(await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=1`))
    // 1,000 viewers: the HyperLogLog estimate is within a few times its 0.8% standard error.
    expect(analyticsReply.unique_viewers).toBeGreaterThanOrEqual(970)
    expect(analyticsReply.unique_viewers).toBeLessThanOrEqual(1030)
    expect(analyticsReply.invalid_click_count).toBe(0)
  })

  it('shows those clicks in the time series and on top of the ranking', async () => {
    const total = await clickCount('1')
    const to = new Date(Date.now() + 60_000).toISOString()
    const from = new Date(Date.now() - 10 * 60_000).toISOString()
    const series = await json<{ buckets: { click_count: number }[] }>(
      await fetch(`${analytics.httpUrl}/ads/1/analytics/timeseries?from=${from}&to=${to}`),
    )
    expect(series.buckets.length).toBeGreaterThanOrEqual(11) // 11 or 12, as from rounds down to its minute
    expect(series.buckets.reduce((sum, b) => sum + b.click_count, 0)).toBe(total)
    const top = await json<{ ads: { ad_id: string; click_count: number }[] }>(
      await fetch(`${analytics.httpUrl}/ads/top?window=10m&limit=3`),
    )
    expect(top.ads[0]).toEqual({ ad_id: '1', click_count: total, impressions: 0, ctr: null })
  })

  it('counts a click sent twice with the same click_id once', async () => {
    const before = await clickCount('2')
    const body = JSON.stringify({ ad_id: '2', playback_time: 5, click_id: uniqueName('retry') })
    expect((await postClick(body)).status).toBe(202)
    expect((await postClick(body)).status).toBe(202)
    const viaHeader = { 'idempotency-key': uniqueName('key') }
    expect((await postClick('{"ad_id":"2","playback_time":6}', viaHeader)).status).toBe(202)
    expect((await postClick('{"ad_id":"2","playback_time":6}', viaHeader)).status).toBe(202)
    expect(await settledCount('2', before + 2)).toBe(before + 2)
  })

  it('refuses bad input with a 4xx JSON error and counts none of it', async () => {
    const before = await clickCount('3')
    const bad = [
      '{"ad_id": "3", ',
      '',
      '{"ad_id": "3"}',
      '{"playback_time": 30}',
      '{"ad_id": 3, "playback_time": 30}',
      '{"ad_id": "3", "playback_time": "30"}',
      '{"ad_id": "3", "playback_time": 3601}',
      '{"ad_id": "3", "playback_time": -5}',
      '{"ad_id": "999", "playback_time": 30}',
      JSON.stringify({ ad_id: '3', playback_time: 1, filler: 'x'.repeat(20_000) }),
    ]
    for (const body of bad) {
      const res = await postClick(body)
      expect(res.status, body.slice(0, 60)).toBeGreaterThanOrEqual(400)
      expect(res.status, body.slice(0, 60)).toBeLessThan(500)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      expect((await json(res)).message).toEqual(expect.any(String))
    }
    // One good click after the bad ones: once it shows, anything accepted before it would have too.
    expect((await postClick('{"ad_id": "3", "playback_time": 30}')).status).toBe(202)
    expect(await settledCount('3', before + 1)).toBe(before + 1)
  })

  it('stores bot and repeat clicks as invalid and leaves them out of click_count', async () => {
    const before = await json(await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=4`))
    const same = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) SameViewer/1' }
    expect((await postClick('{"ad_id":"4","playback_time":1}', same)).status).toBe(202)
    expect((await postClick('{"ad_id":"4","playback_time":2}', same)).status).toBe(202) // repeat
    const bot = { 'user-agent': 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' }
    expect((await postClick('{"ad_id":"4","playback_time":3}', bot)).status).toBe(202)
    await waitFor(
      async () => {
        const now = await json(await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=4`))
        return now.invalid_click_count >= before.invalid_click_count + 2 ? true : undefined
      },
      { what: 'two invalid clicks on ad 4' },
    )
    const after = await json(await fetch(`${analytics.httpUrl}/ads/analytics?ad_id=4`))
    expect(after.click_count).toBe(before.click_count + 1)
    expect(after.invalid_clicks.repeat).toBe((before.invalid_clicks.repeat ?? 0) + 1)
    expect(after.invalid_clicks.bot).toBe((before.invalid_clicks.bot ?? 0) + 1)
  })

  it('exposes Prometheus metrics and probes on each metrics port', async () => {
    const expected: [RunningService, string[]][] = [
      [
        ingest,
        ['http_request_duration_seconds', 'kafka_produce_duration_seconds', 'process_cpu_seconds_total'],
      ],
      [worker, ['worker_batch_size', 'worker_batch_duration_seconds', 'worker_clicks_total']],
      [analytics, ['http_requests_total', 'nodejs_heap_size_used_bytes']],
    ]
    for (const [service, names] of expected) {
      const text = await (await fetch(`${service.metricsUrl}/metrics`)).text()
      for (const name of names) expect(text, `${service.name} exports ${name}`).toContain(`${name}`)
      expect((await fetch(`${service.metricsUrl}/livez`)).status).toBe(200)
      expect((await fetch(`${service.metricsUrl}/readyz`)).status).toBe(200)
    }
  })

  it('writes one JSON object per log line, with the service name and request id', async () => {
    await fetch(`${ingest.httpUrl}/livez`, { headers: { 'x-request-id': 'trace-me-42' } })
    const lines = (svc: RunningService) =>
      svc
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
    expect(lines(worker)).toContainEqual(
      expect.objectContaining({ service: 'click-worker', msg: 'click-worker consuming' }),
    )
    await waitFor(
      async () => (lines(ingest).some((l) => l.request_id === 'trace-me-42') ? true : undefined),
      {
        what: 'the request id in the ingest log',
      },
    )
  })

  it('stops every service cleanly on SIGTERM', async () => {
    const codes = await Promise.all([ingest, worker, analytics].map((s) => s.stop('SIGTERM')))
    expect(codes).toEqual([0, 0, 0])
  })
})
