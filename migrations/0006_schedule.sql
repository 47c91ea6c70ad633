-- The polling schedule: when each post was last walked, and each account's next poll and quota.

-- When a walk of the post last completed, and when a full walk (every page) last did; the schedule
-- spaces walks of posts without a count and edit checks by these.
ALTER TABLE poll_state ADD COLUMN last_walked_at INTEGER;
ALTER TABLE poll_state ADD COLUMN last_full_walk_at INTEGER;
-- Comments the platform's count announced that no walk has found yet (replies in older threads),
-- and when the worker last walked further down to look for them; the search is spaced by age.
ALTER TABLE poll_state ADD COLUMN missing_comments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE poll_state ADD COLUMN last_search_at INTEGER;

-- When the worker plans to poll the account next (later than one cycle when a quota is short).
ALTER TABLE accounts ADD COLUMN next_poll_at INTEGER;
-- The platform quota as last seen: kind 'units' (YouTube: used/limit, resets at quota_resets_at)
-- or 'percent' (Meta usage headers: quota_used is the percentage, quota_limit 100).
ALTER TABLE accounts ADD COLUMN quota_kind TEXT;
ALTER TABLE accounts ADD COLUMN quota_used INTEGER;
ALTER TABLE accounts ADD COLUMN quota_limit INTEGER;
ALTER TABLE accounts ADD COLUMN quota_resets_at INTEGER;
-- Posts due this cycle that the budget pushed to a later one.
ALTER TABLE accounts ADD COLUMN deferred_posts INTEGER NOT NULL DEFAULT 0;
