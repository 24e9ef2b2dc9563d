-- Ads are archived, never deleted: their clicks stay (and keep answering analytics), and their id is
-- never reused, so an old click can never be counted for a new ad. NULL means not archived.
-- Archived ads are left out of GET /ads and GET /ads/:id and refused by ingest-api's catalogue.
alter table ads add column archived_at timestamptz;

-- GET /ads pages through the ads that are not archived, in creation order.
create index ads_listed_created_at_id_idx on ads (created_at, id) where archived_at is null;
