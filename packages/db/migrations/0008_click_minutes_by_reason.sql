-- Invalid clicks by reason in the per-minute rollup, so that the dashboard's overview (GET
-- /analytics/overview) sums the whole system's invalid traffic by reason from minutes rather than from
-- every click. Maintained, like `invalid`, by the worker's insertClicks from the rows its statement
-- created, so each equals the count of the minute's clicks with that reason and they add up to `invalid`.
alter table click_minutes
  add column invalid_bot          integer not null default 0,
  add column invalid_repeat       integer not null default 0,
  add column invalid_over_budget  integer not null default 0,
  add column invalid_inactive_ad  integer not null default 0;

-- The minutes written before this migration, from the clicks themselves (the source of truth).
-- NOTE: exact only while no worker without these columns writes meanwhile: migrate before the workers
-- start (the deployment's migrate job, npm start), as for every migration.
update click_minutes m set
  invalid_bot = r.bot, invalid_repeat = r.repeat,
  invalid_over_budget = r.over_budget, invalid_inactive_ad = r.inactive_ad
from (
  select ad_id, date_trunc('minute', received_at) as minute,
         count(*) filter (where invalid_reason = 'bot')::int as bot,
         count(*) filter (where invalid_reason = 'repeat')::int as repeat,
         count(*) filter (where invalid_reason = 'over_budget')::int as over_budget,
         count(*) filter (where invalid_reason = 'inactive_ad')::int as inactive_ad
  from clicks where invalid_reason is not null group by 1, 2
) r
where m.ad_id = r.ad_id and m.minute = r.minute;
