import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installErrorHandling } from '@adtrack/service-runtime'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DASHBOARD_HEADERS, dashboardRoutes } from './routes/dashboard.js'

// /dashboard/ over a build made here (apps/dashboard's `vite build` has the same shape: index.html and
// hashed files under assets/), and without one. No store is involved: the routes serve files.

let work: string
let dist: string

async function appWith(dir: string) {
  const app = Fastify({ logger: false })
  installErrorHandling(app)
  await app.register(dashboardRoutes, { prefix: '/dashboard', dir })
  return app
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'adtrack-dashboard-'))
  dist = join(work, 'dist')
  await mkdir(join(dist, 'assets'), { recursive: true })
  await writeFile(
    join(dist, 'index.html'),
    '<!doctype html><title>Dashboard</title><script type="module" src="./assets/index-4f2a9c.js"></script>',
  )
  await writeFile(join(dist, 'assets', 'index-4f2a9c.js'), 'console.log("dashboard")')
  await writeFile(join(dist, 'assets', 'index-77ab01.css'), 'body{margin:0}')
  await writeFile(join(work, 'secret.txt'), 'not served')
  await writeFile(join(dist, '.env'), 'not served either')
})

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
})

const expectSecurityHeaders = (headers: Record<string, unknown>) => {
  for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) expect(headers[name], name).toBe(value)
}

describe('/dashboard/', () => {
  it('serves index.html, revalidated on every load, with a CSP without inline scripts', async () => {
    const app = await appWith(dist)
    const res = await app.inject('/dashboard/')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).toContain('<title>Dashboard</title>')
    expect(res.headers['cache-control']).toBe('no-cache')
    expectSecurityHeaders(res.headers)
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self';")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    // no-cache means "ask again": the ETag makes asking cheap.
    const again = await app.inject({
      url: '/dashboard/',
      headers: { 'if-none-match': res.headers.etag as string },
    })
    expect(again.statusCode).toBe(304)
    expect((await app.inject('/dashboard/index.html')).statusCode).toBe(200)
    await app.close()
  })

  it('sends /dashboard to /dashboard/, where the page’s relative URLs resolve', async () => {
    const app = await appWith(dist)
    const res = await app.inject('/dashboard')
    expect(res.statusCode).toBe(301)
    expect(res.headers.location).toBe('/dashboard/')
    expectSecurityHeaders(res.headers)
    await app.close()
  })

  it('caches the hashed assets for a year, immutable, with their content types', async () => {
    const app = await appWith(dist)
    const js = await app.inject('/dashboard/assets/index-4f2a9c.js')
    expect(js.statusCode).toBe(200)
    expect(js.headers['content-type']).toMatch(/^(text|application)\/javascript/)
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expectSecurityHeaders(js.headers)
    const css = await app.inject('/dashboard/assets/index-77ab01.css')
    expect(css.headers['content-type']).toMatch(/^text\/css/)
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    await app.close()
  })

  it('answers a missing file, a dotfile or a path out of the build with a JSON 404 (or 403), headers included', async () => {
    const app = await appWith(dist)
    for (const url of [
      '/dashboard/assets/gone-000000.js',
      '/dashboard/.env',
      '/dashboard/../secret.txt',
      '/dashboard/%2e%2e/secret.txt',
      '/dashboard/assets/..%2f..%2fsecret.txt',
    ]) {
      const res = await app.inject(url)
      expect([403, 404], url).toContain(res.statusCode)
      expect(res.body, url).not.toContain('not served')
      expect(res.headers['content-type'], url).toMatch(/^application\/json/)
      expect(res.json(), url).toMatchObject({ statusCode: res.statusCode })
    }
    // What stays under /dashboard/ carries the page's headers (the `..` above leave it: a plain 404).
    for (const url of ['/dashboard/assets/gone-000000.js', '/dashboard/.env', '/dashboard/nope']) {
      const res = await app.inject(url)
      expect(res.json(), url).toMatchObject({ statusCode: 404, code: 'ROUTE_NOT_FOUND' })
      expectSecurityHeaders(res.headers)
    }
    await app.close()
  })

  it('answers 503 saying how to build the dashboard when there is no build, and keeps serving the rest', async () => {
    const app = await appWith(join(work, 'not-built'))
    app.get('/other', async () => ({ ok: true }))
    for (const url of ['/dashboard/', '/dashboard/assets/index-4f2a9c.js']) {
      const res = await app.inject(url)
      expect(res.statusCode, url).toBe(503)
      expect(res.json()).toMatchObject({ code: 'DASHBOARD_NOT_BUILT' })
      expect(res.json().message).toMatch(/pnpm --filter @adtrack\/dashboard build/)
      expectSecurityHeaders(res.headers)
    }
    expect((await app.inject('/dashboard')).statusCode).toBe(301)
    expect((await app.inject('/other')).statusCode).toBe(200)
    await app.close()
  })
})
