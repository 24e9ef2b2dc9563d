import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from './config.js'
import { redisTls } from './redis.js'

describe('redisTls', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adtrack-redis-tls-'))
    await writeFile(join(dir, 'ca.pem'), `${rootCertificates[0]}\n`)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it("leaves TLS to the URL without a CA file (rediss:// then trusts Node.js's CAs)", () => {
    expect(redisTls('rediss://cache:6380', '')).toBeUndefined()
    expect(redisTls('localhost:6379', '')).toBeUndefined()
  })

  it("gives each connection the file's CA (ioredis copies the options per connection)", () => {
    const tls = redisTls('rediss://cache:6380', join(dir, 'ca.pem'))
    expect(Object.assign({}, tls)).toEqual({ ca: `${rootCertificates[0]}\n` })
  })

  it('refuses, naming the variable, a CA file without rediss:// or one it cannot read', () => {
    expect(() => redisTls('redis://cache:6379', join(dir, 'ca.pem'))).toThrow(ConfigError)
    expect(() => redisTls('cache:6379', join(dir, 'ca.pem'))).toThrow(/REDIS_URL is not rediss:\/\//)
    expect(() => redisTls('rediss://cache:6380', join(dir, 'missing.pem'))).toThrow(
      /REDIS_TLS_CA_FILE cannot be read/,
    )
  })
})
