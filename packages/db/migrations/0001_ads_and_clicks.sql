-- Ads that players show and advertisers manage.
create table ads (
  id          text primary key,
  title       text not null,
  image_url   text not null,
  target_url  text not null,
  status      text not null default 'active' check (status in ('active', 'paused')),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
-- GET /ads pages through ads in creation order.
create index ads_created_at_id_idx on ads (created_at, id);

-- One row per distinct click: the source of truth that Redis counters are rebuilt from.
-- No foreign key to ads on purpose: clicks are facts that must land even if an ad row is archived or
-- arrives late, and a failed constraint would stall a whole Kafka batch.
create table clicks (
  click_id         text primary key,          -- idempotency key: a redelivered or retried click is a no-op
  ad_id            text not null,
  playback_time    integer not null check (playback_time between 0 and 3600),
  received_at      timestamptz not null,      -- when ingest-api accepted it
  ip               text not null,
  user_agent       text not null,
  -- The Kafka record that first carried this click. The worker uses it to tell, deterministically and on
  -- every redelivery, which record "owns" a click and so must be counted in Redis.
  kafka_partition  integer not null,
  kafka_offset     bigint not null,
  recorded_at      timestamptz not null default now()
);
-- Per-ad counts and time ranges (analytics fallback, reconciliation).
create index clicks_ad_id_received_at_idx on clicks (ad_id, received_at);
