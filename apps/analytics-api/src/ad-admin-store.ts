import type { Ad, AdMedia, AdPatch, AdStatus } from '@adtrack/contracts'
import type { Sql } from '@adtrack/db'
import { AD_COLUMNS, mediaColumns } from './ad-columns.js'

// A type, not an interface: postgres.js's sql(object) helper needs it indexable.
export type NewAd = {
  id: string
  title: string
  image_url: string
  target_url: string
  status: AdStatus
  media: AdMedia | null
}

const PATCHABLE = ['title', 'image_url', 'target_url', 'status'] as const

/**
 * Writes to the ads table for the admin endpoints. Ads are archived, never deleted: their clicks stay,
 * and an archived ad's id is never given to another ad. Ingest-api sees every change at its next
 * catalogue reload (AD_CATALOG_REFRESH).
 */
export class AdAdminStore {
  constructor(private readonly sql: Sql) {}

  /** Inserts the ad; `taken` (and nothing written) when its id exists, archived or not. */
  async create({ media, ...ad }: NewAd): Promise<{ ad: Ad } | { taken: 'live' | 'archived' }> {
    const [created] = await this.sql<Ad[]>`
      insert into ads ${this.sql({ ...ad, ...mediaColumns(media) })}
      on conflict (id) do nothing
      returning ${this.sql.unsafe(AD_COLUMNS)}`
    if (created) return { ad: created }
    const [existing] = await this.sql<{ archived: boolean }[]>`
      select archived_at is not null as archived from ads where id = ${ad.id}`
    return { taken: existing?.archived ? 'archived' : 'live' }
  }

  /**
   * Changes the given fields of an ad that is not archived; undefined when there is none. `media` sets
   * all five media columns (null clears them).
   */
  async update(id: string, { media, ...fields }: AdPatch): Promise<Ad | undefined> {
    const changes = {
      ...Object.fromEntries(PATCHABLE.filter((c) => fields[c] !== undefined).map((c) => [c, fields[c]])),
      ...(media === undefined ? {} : mediaColumns(media)),
    }
    const [ad] = await this.sql<Ad[]>`
      update ads set ${this.sql(changes)}, updated_at = now()
      where id = ${id} and archived_at is null
      returning ${this.sql.unsafe(AD_COLUMNS)}`
    return ad
  }

  /** Archives an ad; false when there is no such ad or it is already archived. */
  async archive(id: string): Promise<boolean> {
    const rows = await this.sql`
      update ads set archived_at = now(), updated_at = now()
      where id = ${id} and archived_at is null
      returning id`
    return rows.length > 0
  }
}
