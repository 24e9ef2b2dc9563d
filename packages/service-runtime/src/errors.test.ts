import { FREE_TEXT_PATTERN } from '@adtrack/contracts'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { installErrorHandling } from './errors.js'

const app = Fastify({ logger: false })

beforeAll(async () => {
  installErrorHandling(app)
  app.get('/things', async () => [])
  app.post('/things', async () => ({}))
  app.get('/things/:id', async () => ({}))
  app.delete('/things/:id', async () => null)
  // A static sibling of /things/:id: it answers GET only, though the router would send DELETE to :id.
  app.get('/things/top', async () => [])
  await app.register(
    async (scoped) => {
      scoped.patch('/:id/name', async () => ({}))
      scoped.post(
        '/echo',
        {
          schema: {
            body: {
              type: 'object',
              properties: { note: { type: 'string', pattern: FREE_TEXT_PATTERN } },
            },
          },
        },
        async (request) => request.body,
      )
    },
    { prefix: '/scoped' },
  )
  // What @fastify/cors adds for preflights: a catch-all OPTIONS route whose requests its hook answers.
  await app.register(async (scoped) => {
    scoped.options('*', async (_request, reply) => reply.callNotFound())
  })
  await app.ready()
})
afterAll(() => app.close())

describe('a wrong method on a known path', () => {
  it.each([
    ['PUT', '/things', 'GET, HEAD, POST'],
    ['PATCH', '/things/42', 'DELETE, GET, HEAD'],
    ['POST', '/things/42?x=1', 'DELETE, GET, HEAD'],
    ['GET', '/scoped/7/name', 'PATCH'],
    ['DELETE', '/scoped/echo', 'POST'],
  ])('%s %s is a 405 with Allow: %s', async (method, url, allow) => {
    const res = await app.inject({ method: method as 'GET', url })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe(allow)
    expect(res.json()).toMatchObject({
      statusCode: 405,
      error: 'Method Not Allowed',
      code: 'METHOD_NOT_ALLOWED',
    })
  })

  it('a static path is its own resource: its Allow leaves out the methods of a parametric sibling', async () => {
    for (const method of ['DELETE', 'OPTIONS', 'POST'] as const) {
      const res = await app.inject({ method, url: '/things/top' })
      expect(res.statusCode, method).toBe(405)
      expect(res.headers.allow).toBe('GET, HEAD')
    }
    expect((await app.inject({ method: 'GET', url: '/things/top' })).statusCode).toBe(200)
    // The parametric route still answers every other id.
    expect((await app.inject({ method: 'DELETE', url: '/things/42' })).statusCode).toBe(200)
  })

  it('is decided before the body is read: a missing content type or a malformed body is still a 405', async () => {
    const noType = await app.inject({
      method: 'QUERY' as 'GET',
      url: '/things/42',
      payload: 'x',
      headers: {},
    })
    expect(noType.statusCode).toBe(405)
    const malformed = await app.inject({
      method: 'PUT',
      url: '/things/42',
      payload: '{not json',
      headers: { 'content-type': 'application/json' },
    })
    expect(malformed.statusCode).toBe(405)
    expect(malformed.headers.allow).toBe('DELETE, GET, HEAD')
  })

  it('an unknown path stays a 404', async () => {
    for (const url of ['/nothing', '/things/42/more', '/scoped/7']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(404)
      expect(res.json().code).toBe('ROUTE_NOT_FOUND')
      expect(res.headers.allow).toBeUndefined()
    }
  })
})

it('a preflight catch-all (OPTIONS *) is no resource: unknown paths stay 404, Allow leaves it out', async () => {
  for (const method of ['GET', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: '/nothing' })
    expect(res.statusCode, method).toBe(404)
    expect(res.headers.allow).toBeUndefined()
  }
  const res = await app.inject({ method: 'OPTIONS', url: '/things/42' })
  expect(res.statusCode).toBe(405)
  expect(res.headers.allow).toBe('DELETE, GET, HEAD')
})

it('a failed free-text pattern is said in words, naming the field', async () => {
  const res = await app.inject({ method: 'POST', url: '/scoped/echo', payload: { note: 'a\u0000b' } })
  expect(res.statusCode).toBe(400)
  expect(res.json()).toEqual({
    statusCode: 400,
    error: 'Bad Request',
    message: 'body/note must not contain control characters or invalid Unicode',
    code: 'VALIDATION_FAILED',
  })
})
