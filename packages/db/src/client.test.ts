import { describe, expect, it } from 'vitest'
import { createSql, databaseOptions } from './client.js'

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
