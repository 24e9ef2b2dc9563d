import { readdir, readFile } from 'node:fs/promises'
import type { Sql } from './client.js'

const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url)
// Any constant works; it only has to be the same for every process that migrates this database.
const MIGRATION_LOCK_ID = 727_274_001

/**
 * Applies every migration in migrations/ not yet recorded in schema_migrations, in file-name order,
 * each in its own transaction. An advisory lock makes concurrent runs (several pods starting) safe.
 *
 * TRICKY: the lock is a session lock held across several transactions, so `sql` must reach PostgreSQL
 * directly. Through a transaction-mode pooler (PgBouncer) each transaction may land on another server
 * connection: the lock would guard nothing and its unlock could hit a session that never took it.
 * deploy/README.md points the migration at the database and the services at the pooler.
 */
export async function migrate(sql: Sql, log: (msg: string) => void = () => {}): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort()
  const conn = await sql.reserve()
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    await conn`
      create table if not exists schema_migrations (
        version text primary key,
        applied_at timestamptz not null default now()
      )`
    const done = new Set(
      (await conn<{ version: string }[]>`select version from schema_migrations`).map((r) => r.version),
    )
    const applied: string[] = []
    for (const file of files) {
      if (done.has(file)) continue
      const text = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8')
      log(`applying migration ${file}`)
      await conn`begin`
      try {
        await conn.unsafe(text)
        await conn`insert into schema_migrations (version) values (${file})`
        await conn`commit`
      } catch (err) {
        await conn`rollback`
        throw new Error(`migration ${file} failed: ${(err as Error).message}`)
      }
      applied.push(file)
    }
    return applied
  } finally {
    await conn`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {})
    conn.release()
  }
}
