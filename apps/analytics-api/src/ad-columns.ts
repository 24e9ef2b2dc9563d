import type { AdMedia } from '@adtrack/contracts'

/**
 * The select list that reads an ads row as the `Ad` reply. The five media columns become one `media`
 * object, or null when the ad has none (the table's all-or-none check means url stands for all five).
 */
export const AD_COLUMNS = `id, title, image_url, target_url, status,
  case when media_url is null then null else json_build_object(
    'url', media_url, 'type', media_type, 'width', media_width, 'height', media_height,
    'duration_seconds', media_duration_seconds
  ) end as media,
  created_at`

// A type, not an interface: postgres.js's sql(object) helper needs it indexable.
export type MediaColumns = {
  media_url: string | null
  media_type: string | null
  media_width: number | null
  media_height: number | null
  media_duration_seconds: number | null
}

/** The columns that store `media`; all null for an ad without a video. */
export function mediaColumns(media: AdMedia | null): MediaColumns {
  return {
    media_url: media?.url ?? null,
    media_type: media?.type ?? null,
    media_width: media?.width ?? null,
    media_height: media?.height ?? null,
    media_duration_seconds: media?.duration_seconds ?? null,
  }
}
