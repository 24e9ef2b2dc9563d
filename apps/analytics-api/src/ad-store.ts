import type { Ad } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { AD_COLUMNS } from './ad-columns.js'

/**
 * Read access to the ads in Postgres (their clicks are counted by PostgresClickCounts). Archived ads are
 * not listed or found, but exists() still knows them: their clicks keep counting.
 */
export class AdStore {
  /** Ids known to exist. An ad is never deleted (archived at most) and its id never reused, so a yes is
   * final and is not asked again; a no is always asked, since the ad may be created at any moment. */
  private readonly known = new Set<string>()

  constructor(
    private readonly sql: Sql,
    private readonly maxKnown = 100_000,
  ) {}

  list(limit: number, offset: number): Promise<Ad[]> {
    return this.sql<Ad[]>`
      select ${this.sql.unsafe(AD_COLUMNS)}
      from ads where archived_at is null
      order by created_at, id limit ${limit} offset ${offset}`
  }

  async get(id: string): Promise<Ad | undefined> {
    const [ad] = await this.sql<Ad[]>`
      select ${this.sql.unsafe(AD_COLUMNS)}
      from ads where id = ${id} and archived_at is null`
    return ad
  }

  /** Whether an ad (archived or not) has this id. After the first yes, answered from memory. */
  async exists(id: string): Promise<boolean> {
    if (this.known.has(id)) return true
    const [row] = await this.sql`select 1 from ads where id = ${id}`
    if (row === undefined) return false
    if (this.known.size >= this.maxKnown) this.known.clear()
    this.known.add(id)
    return true
  }

  /** Which of `ids` are ads (archived or not), in one query for those not already known. */
  async existing(ids: string[]): Promise<Set<string>> {
    const found = new Set(ids.filter((id) => this.known.has(id)))
    const ask = ids.filter((id) => !found.has(id))
    if (ask.length === 0) return found
    const rows = await this.sql<{ id: string }[]>`select id from ads where id = any(${ask}::text[])`
    for (const { id } of rows) {
      found.add(id)
      if (this.known.size >= this.maxKnown) this.known.clear()
      this.known.add(id)
    }
    return found
  }
}
