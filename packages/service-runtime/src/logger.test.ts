import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { loggedUrl, loggerOptions } from './logger.js'

describe('loggedUrl', () => {
  it('leaves out the value of an impression token, wherever it is in the query', () => {
    expect(loggedUrl('/track/1/start?t=v1.abc.def&cb=123')).toBe('/track/1/start?t=[redacted]&cb=123')
    expect(loggedUrl('/track/1/clickthrough?cb=1&t=secret')).toBe('/track/1/clickthrough?cb=1&t=[redacted]')
    expect(loggedUrl('/ads/analytics?ad_id=1&at=x')).toBe('/ads/analytics?ad_id=1&at=x')
    expect(loggedUrl('/ads')).toBe('/ads')
  })
})

describe("a service's request log", () => {
  it('shows the pixel request without its token', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const app = Fastify({ logger: { ...loggerOptions('test', 'info'), stream } })
    app.get('/track/:ad/:event', async () => 'ok')
    await app.inject({ method: 'GET', url: '/track/1/start?t=the-secret-token&cb=42' })
    await app.close()
    const incoming = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'incoming request')
    expect(incoming.req).toMatchObject({ method: 'GET', url: '/track/1/start?t=[redacted]&cb=42' })
    expect(lines.join('')).not.toContain('the-secret-token')
  })
})
