import { stackTls } from '@adtrack/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedis } from './redis.js'

// The stack's Redis TLS port (a certificate for localhost from the stack's own CA), as a service with a
// rediss:// REDIS_URL and REDIS_TLS_CA_FILE connects to it.
const opened: ReturnType<typeof createRedis>[] = []
afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect()
})

/** PONG if a client connects and pings, else the error that stopped it. */
async function tryPing(url: string, caFile?: string): Promise<string> {
  const redis = createRedis(url, { lazyConnect: true, failFast: true, ...(caFile ? { caFile } : {}) })
  opened.push(redis)
  // ioredis rejects with "Connection is closed"; why it closed (a TLS error) comes as an 'error' event.
  const errors: Error[] = []
  redis.on('error', (err: Error) => errors.push(err))
  try {
    await redis.connect()
    return await redis.ping()
  } catch (err) {
    return String(errors[0] ?? err)
  }
}

describe('Redis over TLS, as the services connect', () => {
  it('connects with the CA file', async () => {
    expect(await tryPing(stackTls().redisUrl, stackTls().caFile)).toBe('PONG')
  })

  it("does not trust the server's certificate without the CA that signed it", async () => {
    expect(await tryPing(stackTls().redisUrl)).toMatch(/certificate/i)
  })

  it('cannot reach the TLS port in plain text', async () => {
    const plain = stackTls().redisUrl.replace(/^rediss:/, 'redis:')
    expect(await tryPing(plain)).not.toBe('PONG')
  })
})
