-- Invalid traffic is marked, not deleted: a click keeps its row for audit, with the reason it does not
-- count. NULL means valid. viewer_id is the player's own id or a hash of IP and user agent.
alter table clicks
  add column viewer_id text,
  add column invalid_reason text check (invalid_reason in ('bot', 'repeat', 'over_budget', 'inactive_ad'));

-- The worker looks up each viewer's recent clicks to classify repeats and over-budget viewers.
create index clicks_viewer_id_received_at_idx on clicks (viewer_id, received_at);
