import type { Ad } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'

/** Read access to ads, and to click counts when Redis cannot answer, in Postgres. */
export class AdStore {
  constructor(private readonly sql: Sql) {}

  list(limit: number, offset: number): Promise<Ad[]> {
    return this.sql<Ad[]>`
      select id, title, image_url, target_url, status, created_at
      from ads order by created_at, id limit ${limit} offset ${offset}`
  }

  async get(id: string): Promise<Ad | undefined> {
    const [ad] = await this.sql<Ad[]>`
      select id, title, image_url, target_url, status, created_at from ads where id = ${id}`
    return ad
  }

  async exists(id: string): Promise<boolean> {
    const [row] = await this.sql`select 1 from ads where id = ${id}`
    return row !== undefined
  }

  /** The exact counts, from the source of truth; slower than Redis, used when Redis is down. */
  async clickCounts(adId: string): Promise<{ clicks: number; uniqueViewers: number }> {
    const [row] = await this.sql<{ clicks: number; viewers: number }[]>`
      select count(*)::int as clicks, count(distinct (ip, user_agent))::int as viewers
      from clicks where ad_id = ${adId}`
    return { clicks: row?.clicks ?? 0, uniqueViewers: row?.viewers ?? 0 }
  }
}
