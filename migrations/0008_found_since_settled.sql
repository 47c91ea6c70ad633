-- Comments new to the store since the post's count was last reconciled (a walk settled it),
-- counted in the same transaction as the pages that stored them. A walk interrupted by a kill or a
-- shutdown resumes with what its earlier runs found, instead of reading the whole post again to
-- explain the platform's count.
ALTER TABLE poll_state ADD COLUMN found_since_settled INTEGER NOT NULL DEFAULT 0;
