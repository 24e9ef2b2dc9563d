import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSql, databaseOptions, databaseTls } from './client.js'

// postgres.js connects lazily: these pools never open a connection, they only show what they were given.
describe('createSql', () => {
  const config = { DATABASE_POOL_MAX: 7, DATABASE_PASSWORD: '', DATABASE_PREPARE: false }

  it('takes the pool size and prepared-statement choice from the service configuration', async () => {
    const sql = createSql('postgres://app:from-url@db:5432/app', databaseOptions(config, 'ingest-api'))
    expect(sql.options.max).toBe(7)
    expect(sql.options.prepare).toBe(false)
    expect(sql.options.pass).toBe('from-url')
    await sql.end()
  })

  it('lets DATABASE_PASSWORD supply the password of a URL that carries none', async () => {
    const sql = createSql(
      'postgres://app@pooler:5432/app',
      databaseOptions({ ...config, DATABASE_PASSWORD: 'from-secret' }, 'click-worker'),
    )
    expect(sql.options.pass).toBe('from-secret')
    await sql.end()
  })
})

describe('databaseTls (DATABASE_URL as libpq reads it)', () => {
  let dir: string
  let ca: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adtrack-db-tls-'))
    ca = join(dir, 'ca.pem')
    await writeFile(ca, `${rootCertificates[0]}\n`)
    await writeFile(join(dir, 'not-a-cert.pem'), 'hello\n')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('leaves a URL without TLS parameters, and the modes postgres.js knows, to postgres.js', () => {
    expect(databaseTls('postgres://app@db/app')).toEqual({ url: 'postgres://app@db/app' })
    const unusual = 'postgres://app:p%7Cw d@db:5432/app?application_name=x y'
    expect(databaseTls(unusual)).toEqual({ url: unusual })
    expect(databaseTls('postgres://app@db/app?sslmode=require').ssl).toBeUndefined()
    expect(databaseTls('postgres://app@db/app?sslmode=verify-full').ssl).toBeUndefined()
  })

  it('verifies chain and host name with verify-full and a root certificate, taking both parameters out', () => {
    const { url, ssl } = databaseTls(`postgres://app@db/app?sslmode=verify-full&sslrootcert=${ca}&x=1`)
    expect(url).toBe('postgres://app@db/app?x=1')
    expect(ssl).toMatchObject({ rejectUnauthorized: true, ca: `${rootCertificates[0]}\n` })
    expect(ssl?.checkServerIdentity).toBeUndefined()
  })

  it('verifies the chain only with verify-ca, and with require once a root certificate is given (as libpq)', () => {
    for (const mode of ['verify-ca', 'require']) {
      const { ssl } = databaseTls(`postgres://app@db/app?sslmode=${mode}&sslrootcert=${ca}`)
      expect(ssl?.rejectUnauthorized).toBe(true)
      expect(ssl?.checkServerIdentity?.('elsewhere', {} as never)).toBeUndefined()
    }
  })

  it('ignores a root certificate where libpq verifies nothing (prefer, the default)', () => {
    const { url, ssl } = databaseTls(`postgres://app@db/app?sslrootcert=${ca}`)
    expect(ssl).toBeUndefined()
    expect(url).toBe('postgres://app@db/app')
  })

  it('refuses, naming DATABASE_URL but not its password, a root certificate it cannot use', () => {
    const missing = `postgres://app:s3cret@db/app?sslmode=verify-full&sslrootcert=${dir}/missing.pem`
    expect(() => databaseTls(missing)).toThrow(/^DATABASE_URL: sslrootcert cannot be read/)
    expect(() => databaseTls(missing)).not.toThrow(/s3cret/)
    expect(() =>
      databaseTls(`postgres://app@db/app?sslmode=verify-full&sslrootcert=${dir}/not-a-cert.pem`),
    ).toThrow(/holds no PEM certificate/)
  })

  it('refuses client-certificate parameters that postgres.js would send to the server as settings', () => {
    expect(() => databaseTls('postgres://app@db/app?sslmode=verify-full&sslcert=/c.pem')).toThrow(
      /sslcert not supported/,
    )
  })
})
