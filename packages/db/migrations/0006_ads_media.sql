-- The video a VAST tag serves for an ad: the media file's URL, MIME type, frame size and length. All five
-- or none: an ad without media keeps working for clicks and analytics but gets no VAST tag. The checks
-- hold what packages/contracts (AdMedia) accepts, so a row written past the API cannot break a tag.
alter table ads
  add column media_url text
    check (media_url ~ '^https?://[^[:space:]/?#]+' and length(media_url) <= 2048),
  add column media_type text check (media_type in ('video/mp4', 'video/webm')),
  add column media_width integer check (media_width between 1 and 8192),
  add column media_height integer check (media_height between 1 and 8192),
  -- Seconds as a float8, which holds any JSON number exactly; VAST's HH:MM:SS.mmm rounds it to the
  -- millisecond, hence the one-millisecond floor.
  add column media_duration_seconds double precision check (media_duration_seconds between 0.001 and 3600),
  add constraint ads_media_all_or_none check (
    num_nonnulls(media_url, media_type, media_width, media_height, media_duration_seconds) in (0, 5)
  );
