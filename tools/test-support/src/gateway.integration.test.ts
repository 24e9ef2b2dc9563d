import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorBody } from '@adtrack/contracts'
import { seedDemoAds } from '@adtrack/db'
import { freePort, type GatewayServer, startGateway } from '@adtrack/local-stack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, readTopic, stack, topicRecordCount, uniqueName } from './helpers.js'
import { RawConnection, type RawRequest, type RawResponse } from './raw-http.js'
import { type RunningService, startGatewayFor, startService } from './services.js'

// `npm start`'s gateway (nginx with the compose template, started by local-stack) in front of ingest-api
// and analytics-api started from their builds: what a client of the public port sees when a request is
// refused, and that the refusal never costs it the next request.
let db: Awaited<ReturnType<typeof createTestDatabase>>
let ingest: RunningService
let analytics: RunningService
let gateway: GatewayServer
let work: string
const topic = uniqueName('gateway_clicks')

beforeAll(async () => {
  db = await createTestDatabase()
  await seedDemoAds(db.sql)
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: stack().redisUrl,
    KAFKA_BROKERS: stack().kafkaBrokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_TOPIC_PARTITIONS: '1',
    REDIS_KEY_PREFIX: `${uniqueName('gateway')}:`,
    LOG_LEVEL: 'warn',
  }
  // As npm start configures it (local-stack services.ts): the gateway on loopback is a trusted proxy.
  ;[ingest, analytics] = await Promise.all([
    startService('ingest-api', { ...env, TRUSTED_PROXIES: '127.0.0.1,::1' }),
    startService('analytics-api', env),
  ])
  work = await mkdtemp(join(tmpdir(), 'adtrack-gateway-'))
  gateway = await startGatewayFor(
    { ingest, analytics },
    { dir: join(work, 'gateway'), port: await freePort() },
  )
})

afterAll(async () => {
  await gateway?.stop()
  await Promise.all([ingest, analytics].filter(Boolean).map((s) => s.stop()))
  await db?.drop()
  if (work) await rm(work, { recursive: true, force: true })
})

const click = JSON.stringify({ ad_id: '1', playback_time: 30 })
const padded = (bytes: number) => JSON.stringify({ ad_id: '1', playback_time: 30, pad: 'x'.repeat(bytes) })
const postClick = (body: string, extra: Partial<RawRequest> = {}): RawRequest => ({
  method: 'POST',
  path: '/ads/click',
  headers: { 'content-type': 'application/json' },
  body,
  ...extra,
})

/** A fetch Response read whole, in RawResponse's terms. */
async function read(res: Response): Promise<RawResponse> {
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() }
}

/** An ErrorBody with Content-Type application/json; returns its code. */
function errorCode(response: Pick<RawResponse, 'headers' | 'body'>): string {
  expect(response.headers['content-type']).toMatch(/^application\/json/)
  const reply = JSON.parse(response.body) as Record<string, unknown>
  expect(Object.keys(reply).sort()).toEqual(Object.keys(ErrorBody.properties).sort())
  return reply.code as string
}

/** node:http with a keep-alive agent: a client that reuses its connection unless told to close it. */
function send(agent: Agent, body: string) {
  return new Promise<{ status: number; headers: Record<string, string>; body: string; reused: boolean }>(
    (resolve, reject) => {
      const req = request(`${gateway.url}/ads/click`, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      })
      req.on('response', (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString()
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string>,
            body: text,
            reused: req.reusedSocket,
          }),
        )
      })
      req.on('error', reject)
      req.end(body)
    },
  )
}

describe('the gateway in front of the services', () => {
  it('refuses a 2 MB body itself (413 JSON, Connection: close, a clean close), and the client’s next click gets through', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const refused = await send(agent, padded(2_000_000))
      expect(refused.status).toBe(413)
      expect(errorCode(refused)).toBe('GATEWAY_BODY_TOO_LARGE')
      expect(refused.headers.connection).toBe('close')
      const next = await send(agent, click)
      expect(next.status, next.body).toBe(202)
    } finally {
      agent.destroy()
    }
    // Byte for byte: the whole answer arrives while the body is still being sent, then a FIN, not a reset.
    const conn = await RawConnection.open(gateway.url)
    const { response } = await conn.request(postClick(padded(2_000_000)))
    expect(response.status).toBe(413)
    expect(response.headers.connection).toBe('close')
    expect(await conn.closedByServer()).toBe('end')
  })

  it.each([
    ['a 5 KB click (BODY_LIMIT 4 KiB)', '/ads/click', padded(5_000)],
    ['a 900 KB batch (500 clicks x 1 KiB)', '/ads/clicks', `[${Array(900).fill(padded(990)).join(',')}]`],
  ])(
    'passes ingest-api’s own 413 for %s through, and the same connection carries the next click',
    async (_, path, body) => {
      const conn = await RawConnection.open(gateway.url)
      try {
        const refused = await conn.request(postClick(body, { path }))
        expect(refused.response.status).toBe(413)
        expect(errorCode(refused.response)).toBe('FST_ERR_CTP_BODY_TOO_LARGE')
        expect(refused.response.headers.connection).toBe('keep-alive')
        const next = await conn.request(postClick(click))
        expect(next.response.status, next.response.body).toBe(202)
        expect(conn.ended).toBeUndefined()
      } finally {
        conn.close()
      }
    },
  )

  it('answers Expect: 100-continue with 100 Continue, and the click is accepted; a body over 1 MiB is refused before it is sent', async () => {
    const conn = await RawConnection.open(gateway.url)
    try {
      const accepted = await conn.request(postClick(click, { expectContinue: true }))
      expect(accepted.interim).toEqual([100])
      expect(accepted.response.status, accepted.response.body).toBe(202)
      const refused = await conn.request(postClick(padded(2_000_000), { expectContinue: true }))
      expect(refused.interim).toEqual([])
      expect(refused.response.status).toBe(413)
      expect(errorCode(refused.response)).toBe('GATEWAY_BODY_TOO_LARGE')
    } finally {
      conn.close()
    }
  })

  it('sends GET /ads to analytics-api, and its own errors through unchanged', async () => {
    const ads = await fetch(`${gateway.url}/ads`)
    expect(ads.status).toBe(200)
    expect(((await ads.json()) as { id: string }[]).map((a) => a.id)).toContain('1')
    const bad = await read(await fetch(`${gateway.url}/ads/analytics`))
    expect(bad.status).toBe(400)
    expect(errorCode(bad)).toBe('VALIDATION_FAILED')
  })

  it('passes the overview’s ETag and 304 through unchanged, for the dashboard’s conditional polling', async () => {
    const first = await fetch(`${gateway.url}/analytics/overview`)
    expect(first.status).toBe(200)
    const etag = first.headers.get('etag') as string
    expect(etag).toMatch(/^W\/"/)
    expect(first.headers.get('cache-control')).toBe('no-cache')
    const again = await fetch(`${gateway.url}/analytics/overview`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(again.headers.get('etag')).toBe(etag)
    expect(await again.text()).toBe('')
  })

  it('sends /dashboard/ to analytics-api with no route of its own, the page’s headers intact', async () => {
    const page = await fetch(`${gateway.url}/dashboard/`)
    // Built (apps/dashboard) or not, the answer is analytics-api's: the page, or its 503 saying how to build it.
    if (page.status === 200) expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    else expect(errorCode(await read(page))).toBe('DASHBOARD_NOT_BUILT')
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'; script-src 'self';/)
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    const bare = await fetch(`${gateway.url}/dashboard`, { redirect: 'manual' })
    expect(bare.status).toBe(301)
    expect(bare.headers.get('location')).toBe('/dashboard/')
  })

  it('sends the tracking routes under /track/ to ingest-api: pixel, click-through, SDK route and its preflight', async () => {
    // Without a token nothing is counted, but the answers are ingest-api's alone (analytics-api would 404).
    const pixel = await fetch(`${gateway.url}/track/1/impression?t=[TOKEN]&cb=123`)
    expect(pixel.status).toBe(200)
    expect(pixel.headers.get('content-type')).toBe('image/gif')
    expect(pixel.headers.get('cache-control')).toBe('no-store')
    expect(
      Buffer.from(await pixel.arrayBuffer())
        .subarray(0, 6)
        .toString('latin1'),
    ).toBe('GIF89a')

    const through = await fetch(`${gateway.url}/track/1/clickthrough?url=https://evil.example/`, {
      redirect: 'manual',
    })
    expect(through.status).toBe(302)
    expect(through.headers.get('location')).toBe('http://example.com/target1')

    const sdk = await fetch(`${gateway.url}/track/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ t: 'forged', event: 'start' }),
    })
    expect(sdk.status).toBe(200)
    expect(((await sdk.json()) as { results: { code: string }[] }).results[0]?.code).toBe('BAD_TOKEN')

    const preflight = await fetch(`${gateway.url}/track/events`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    // Any origin (the default `*`) is echoed, with credentials, through the gateway untouched.
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://player.example')
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true')
  })

  it('tells ingest-api the client’s address (X-Forwarded-For), and ingest-api believes it', async () => {
    const post = async (headers: Record<string, string>) => {
      const res = await fetch(`${gateway.url}/ads/click`, { method: 'POST', headers, body: click })
      expect(res.status).toBe(202)
      return ((await res.json()) as { click_id: string }).click_id
    }
    const forwarded = await post({ 'x-forwarded-for': '203.0.113.7' })
    const direct = await post({})
    const records = await readTopic(topic, await topicRecordCount(topic))
    const ipOf = (clickId: string) => records.find((r) => r.value.click_id === clickId)?.value.ip
    expect(ipOf(forwarded)).toBe('203.0.113.7')
    expect(ipOf(direct)).toBe('127.0.0.1')
  })

  it('routes only the table’s paths: the services’ probes and metrics get the gateway’s own JSON 404', async () => {
    // Each service answers these on its http port too (ops routes): through the gateway they are not there.
    for (const path of ['/livez', '/readyz', '/metrics', '/', '/tracking', '/adsx', '/nothing']) {
      const res = await read(await fetch(`${gateway.url}${path}`))
      expect(res.status, path).toBe(404)
      expect(errorCode(res), path).toBe('GATEWAY_NOT_FOUND')
    }
    // A path the table routes, unknown to its service: the service's own 404, not the gateway's.
    const unknown = await read(await fetch(`${gateway.url}/ads/7/nothing`))
    expect(unknown.status).toBe(404)
    expect(errorCode(unknown)).not.toBe('GATEWAY_NOT_FOUND')
  })

  it('serves analytics-api’s Swagger UI and OpenAPI description at /docs (local: true in deploy/routes.yaml)', async () => {
    const description = await fetch(`${gateway.url}/docs/json`)
    expect(description.status).toBe(200)
    expect(((await description.json()) as { paths: Record<string, unknown> }).paths).toHaveProperty(
      '/ads/{id}/vast',
    )
  })

  it('answers a malformed request with its own JSON 400', async () => {
    const conn = await RawConnection.open(gateway.url)
    try {
      // HTTP/1.1 without a Host header.
      const response = await conn.sendRaw('GET /ads HTTP/1.1\r\n\r\n')
      expect(response.status).toBe(400)
      expect(errorCode(response)).toBe('GATEWAY_BAD_REQUEST')
    } finally {
      conn.close()
    }
  })
})

describe('the gateway with no service behind it', () => {
  it('answers its own JSON 502', async () => {
    const dead = await startGateway({
      dir: join(work, 'dead-gateway'),
      variables: {
        GATEWAY_PORT: String(await freePort()),
        INGEST_API_ADDR: `127.0.0.1:${await freePort()}`,
        ANALYTICS_API_ADDR: `127.0.0.1:${await freePort()}`,
      },
      log: () => {},
    })
    try {
      for (const [method, path] of [
        ['GET', '/ads'],
        ['POST', '/ads/click'],
      ] as const) {
        const body = method === 'POST' ? click : undefined
        const res = await read(await fetch(`${dead.url}${path}`, { method, body }))
        expect(res.status, `${method} ${path}`).toBe(502)
        expect(errorCode(res)).toBe('GATEWAY_UPSTREAM_UNAVAILABLE')
      }
    } finally {
      await dead.stop()
    }
  })
})
