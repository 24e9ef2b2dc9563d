import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createSql, type Sql } from './client.js'

// The shared test stack's PostgreSQL (tools/test-support's global setup provides it), and its TLS URL
// (sslmode=verify-full&sslrootcert=<the stack's CA>) when the stack has TLS listeners.
const stackInfo = () =>
  (inject as (key: 'stack') => { databaseUrl: string; tls?: { databaseUrl: string } })('stack')
const databaseUrl = () => stackInfo().databaseUrl
function tlsDatabaseUrl(): string {
  const tls = stackInfo().tls
  if (!tls)
    throw new Error('this test stack has no TLS listeners (the native stack has; or set TEST_STACK_TLS)')
  return tls.databaseUrl
}

let sql: Sql | undefined
afterEach(async () => {
  await sql?.end({ timeout: 5 })
  sql = undefined
})

describe('createSql against PostgreSQL', () => {
  it('never opens more connections than its pool size, however many queries wait', async () => {
    sql = createSql(databaseUrl(), { max: 2 })
    const db = sql
    const rows = await Promise.all(
      Array.from({ length: 6 }, () => db<{ pid: number }[]>`select pg_backend_pid() as pid, pg_sleep(0.05)`),
    )
    expect(new Set(rows.map(([row]) => row?.pid)).size).toBe(2)
  })

  it('prepares named statements by default, and none with prepare: false (for a pooler that cannot track them)', async () => {
    const preparedAfterOneQuery = async (prepare: boolean) => {
      const db = createSql(databaseUrl(), { max: 1, prepare })
      sql = db
      await db`select ${1}::int as one`
      const [row] = await db<{ n: number }[]>`select count(*)::int as n from pg_prepared_statements`
      await db.end({ timeout: 5 })
      sql = undefined
      return row?.n
    }
    expect(await preparedAfterOneQuery(true)).toBeGreaterThan(0)
    expect(await preparedAfterOneQuery(false)).toBe(0)
  })
})

describe('PostgreSQL with sslmode=verify-full and sslrootcert, as the services connect', () => {
  let otherCa: string

  beforeAll(async () => {
    otherCa = await mkdtemp(join(tmpdir(), 'adtrack-other-ca-'))
    // A real CA certificate that did not sign the server's: the first of Node.js's bundled ones.
    await writeFile(join(otherCa, 'ca.pem'), `${rootCertificates[0]}\n`)
  })
  afterAll(() => rm(otherCa, { recursive: true, force: true }))

  it('connects over TLS, verified against the stack CA', async () => {
    sql = createSql(tlsDatabaseUrl(), { max: 1 })
    const [row] = await sql<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`
    expect(row?.ssl).toBe(true)
  })

  it('refuses the server when sslrootcert is a CA that did not sign its certificate', async () => {
    const url = new URL(tlsDatabaseUrl())
    url.searchParams.set('sslrootcert', join(otherCa, 'ca.pem'))
    sql = createSql(url.toString(), { max: 1 })
    await expect(sql`select 1`).rejects.toThrow(/certificate/i)
  })
})
