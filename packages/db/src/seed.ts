import type { Sql } from './client.js'

/**
 * The demo video (apps/analytics-api/media/demo.mp4: 10 s, 320x180, H.264 and AAC), as `npm start`'s
 * gateway serves it. A VAST tag needs an absolute URL and the seed cannot know where a deployment is
 * reachable, so the demo ads name the local stack's address; real ads carry their own media URL.
 */
export const DEMO_MEDIA = {
  media_url: 'http://localhost:8080/media/demo.mp4',
  media_type: 'video/mp4',
  media_width: 320,
  media_height: 180,
  media_duration_seconds: 10,
}

/** The ten ads the system we replace shipped with, ids "1" to "10", so its curl examples keep working. */
export function demoAds(now = Date.now()) {
  return Array.from({ length: 10 }, (_, i) => {
    const n = i + 1
    return {
      id: String(n),
      title: `Demo ad ${n}`,
      image_url: `http://example.com/image${n}.jpg`,
      target_url: `http://example.com/target${n}`,
      status: 'active',
      ...DEMO_MEDIA,
      // One millisecond apart so that creation order lists them 1..10, not 1, 10, 2, ...
      created_at: new Date(now + n),
    }
  })
}

/** Inserts the demo ads only when the ads table is empty; returns how many were inserted. */
export async function seedDemoAds(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    // Two seeders racing must not both see an empty table.
    await tx`lock table ads in share row exclusive mode`
    const [row] = await tx<{ n: number }[]>`select count(*)::int as n from ads`
    if ((row?.n ?? 0) > 0) return 0
    const ads = demoAds()
    await tx`insert into ads ${tx(ads)}`
    return ads.length
  })
}

/**
 * Gives the demo ads the demo video when they have none: the ads of a `.data/` seeded before ads carried
 * media, which would otherwise answer the empty VAST forever. Only an ad that is still the demo ad (its
 * id and title) and has no media is touched, so an advertiser's edits are kept. Returns how many changed.
 */
export async function giveDemoAdsMedia(sql: Sql): Promise<number> {
  const demo = demoAds().map(({ id, title }) => ({ id, title }))
  const rows = await sql`
    update ads set ${sql(DEMO_MEDIA)}, updated_at = now()
    where media_url is null
      and (id, title) in (select id, title from json_to_recordset(${JSON.stringify(demo)}::text::json)
                          as t(id text, title text))
    returning id`
  return rows.length
}
