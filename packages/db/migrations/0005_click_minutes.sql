-- Per-ad, per-minute rollup of clicks by their receive time, maintained by the worker in the same
-- statement that inserts the clicks (only rows that statement created), so it is exact and never
-- counts a click twice. Time series and top ads beyond Redis's retention read it.
create table click_minutes (
  ad_id         text not null,
  minute        timestamptz not null,
  valid         integer not null default 0,
  invalid       integer not null default 0,
  playback_sum  bigint not null default 0,
  primary key (ad_id, minute)
);
-- Top ads over a window reads every ad's recent minutes.
create index click_minutes_minute_idx on click_minutes (minute);
