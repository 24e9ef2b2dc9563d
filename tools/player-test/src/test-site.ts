import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
// vast-client's own browser build (an ES module), as a publisher's page would load it from a CDN.
const vastClientBundle = join(
  dirname(createRequire(import.meta.url).resolve('@dailymotion/vast-client/package.json')),
  'dist',
  'vast-client.min.js',
)

/** A route of the site beyond the player page: answers a request itself. */
export type SiteRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

export interface TestSite {
  /** http://127.0.0.1:<port>, the publisher's and the advertiser's origin in these tests. */
  url: string
  /** The player page, set to play the VAST tag at `tagUrl`. */
  playerUrl(tagUrl: string, opts?: { rate?: number }): string
  /** The path of every request the site received, in order. */
  requests: string[]
  close(): Promise<void>
}

/**
 * The web site around the player: `/player.html` (the page), `/vast-client.js` (the library), and
 * `/landing/<name>`, a page standing for an advertiser's site that click-throughs can land on.
 * `routes` adds exact paths (a static tag, its pixels) for tests that play without our services.
 */
export async function startTestSite(routes: Record<string, SiteRoute> = {}): Promise<TestSite> {
  const requests: string[] = []
  const page = await readFile(join(here, 'player.html'))
  const bundle = await readFile(vastClientBundle)
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://site').pathname
    requests.push(req.url ?? '/')
    try {
      const route = routes[path]
      if (route) return await route(req, res)
      if (path === '/player.html') return send(res, 200, 'text/html; charset=utf-8', page)
      if (path === '/vast-client.js') return send(res, 200, 'text/javascript; charset=utf-8', bundle)
      if (path.startsWith('/landing/'))
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          '<!doctype html><title>Advertiser</title><h1>Landed</h1>',
        )
      send(res, 404, 'text/plain', 'not found')
    } catch (err) {
      send(res, 500, 'text/plain', String(err))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    playerUrl: (tagUrl, opts = {}) =>
      `${url}/player.html?${new URLSearchParams({ tag: tagUrl, rate: String(opts.rate ?? 1) })}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(body)
}
