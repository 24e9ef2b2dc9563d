-- The video events of an impression: one row per (impression, event type), the source of truth that
-- Redis's event counters are rebuilt from. The primary key is the exactly-once rule: a player firing a
-- pixel twice, Kafka redelivering, a worker killed mid-batch all meet `on conflict do nothing`.
-- Rows per event rather than one row per impression: every write is an insert (no row rewritten by each
-- quartile, so no dead tuples for vacuum), and every count is a plain count of rows.
-- A click of an impression is not here: it is a row of `clicks` (click_id `imp:<impression id>`), under the
-- click rules, with its impression id below.
-- No foreign key to ads, like clicks: facts must land whatever happened to the ad row.
create table ad_events (
  impression_id    text not null,
  event            text not null check (event in (
                     'impression', 'start', 'first_quartile', 'midpoint', 'third_quartile', 'complete',
                     'skip', 'pause', 'resume', 'mute', 'unmute', 'error')),
  ad_id            text not null,
  served_at        timestamptz not null,   -- when analytics-api served the tag (signed in the token)
  received_at      timestamptz not null,   -- when ingest-api accepted the event
  viewer_id        text not null,
  ip               text not null,
  user_agent       text not null,
  error_code       smallint check (error_code between 100 and 999),
  ad_playhead      double precision check (ad_playhead between 0 and 3600),
  invalid_reason   text check (invalid_reason in ('bot')),
  -- The Kafka record that first carried this event; see clicks.kafka_partition.
  kafka_partition  integer not null,
  kafka_offset     bigint not null,
  recorded_at      timestamptz not null default now(),
  primary key (impression_id, event)
);
-- Per-ad counts and time ranges (analytics fallback, reconciliation).
create index ad_events_ad_id_received_at_idx on ad_events (ad_id, received_at);

-- Per-ad, per-minute rollup of events by type (and error code; 0 for every other event), maintained in
-- the statement that inserts the events (only rows it created), like click_minutes.
create table event_minutes (
  ad_id       text not null,
  minute      timestamptz not null,
  event       text not null,
  error_code  smallint not null default 0,
  valid       integer not null default 0,
  invalid     integer not null default 0,
  primary key (ad_id, minute, event, error_code)
);
create index event_minutes_minute_idx on event_minutes (minute);

-- The impression a click came through, for clicks from a tag's click-through or click pixel.
alter table clicks add column impression_id text;
