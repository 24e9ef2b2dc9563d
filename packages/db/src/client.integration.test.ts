import { afterEach, describe, expect, inject, it } from 'vitest'
import { createSql, type Sql } from './client.js'

// The shared test stack's PostgreSQL (tools/test-support's global setup provides it).
const databaseUrl = () => (inject as (key: 'stack') => { databaseUrl: string })('stack').databaseUrl

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
