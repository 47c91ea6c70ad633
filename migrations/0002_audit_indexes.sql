-- Indexes for `triage audit` (store/audit.rs), which reads a whole campaign at once.

-- Comment counts per post: answered from the index alone, without reading the rows.
CREATE INDEX comments_live_by_post ON comments (post_id, created_at) WHERE deleted_at IS NULL;

-- "Did another commenter reply?": the reply's role and author from the index alone.
CREATE INDEX comments_live_replies ON comments (post_id, parent_external_id, author_role, author_handle)
    WHERE deleted_at IS NULL AND parent_external_id IS NOT NULL;
