-- Accounts, posts, comments and polling state.
-- Timestamps are Unix seconds (UTC) in INTEGER columns, so the schema ports to PostgreSQL as BIGINT.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    platform        TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    owner_handle    TEXT    NOT NULL,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    fail_count      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    UNIQUE (platform, external_id)
);

CREATE TABLE posts (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    external_id    TEXT    NOT NULL,
    caption        TEXT    NOT NULL,
    permalink      TEXT,
    created_at     INTEGER NOT NULL,
    comments_count INTEGER,
    UNIQUE (account_id, external_id)
);

CREATE TABLE post_campaigns (
    post_id  INTEGER NOT NULL REFERENCES posts (id),
    campaign TEXT    NOT NULL,
    PRIMARY KEY (campaign, post_id)
);

CREATE TABLE comments (
    id                 INTEGER PRIMARY KEY,
    post_id            INTEGER NOT NULL REFERENCES posts (id),
    external_id        TEXT    NOT NULL,
    -- The top-level comment this one replies to; NULL for a top-level comment.
    parent_external_id TEXT,
    author_id          TEXT,
    author_handle      TEXT    NOT NULL,
    -- owner | brand | audience
    author_role        TEXT    NOT NULL,
    text               TEXT    NOT NULL,
    hidden             INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    -- When a poll saw the text change.
    edited_at          INTEGER,
    -- When a complete walk of the post no longer found it (kept for the audit trail).
    deleted_at         INTEGER,
    first_seen_at      INTEGER NOT NULL,
    -- product_question | other_question | not_question, with the category of a product question.
    label              TEXT    NOT NULL,
    category           TEXT,
    rule               TEXT    NOT NULL,
    overruled_rule     TEXT,
    -- The first reply by the owner or the brand in the thread, or their top-level @mention of the author.
    answered_at        INTEGER,
    answered_by        TEXT,
    answered_role      TEXT,
    UNIQUE (post_id, external_id),
    CHECK ((label = 'product_question') = (category IS NOT NULL))
);

CREATE INDEX comments_by_thread ON comments (post_id, parent_external_id, created_at);
CREATE INDEX comments_open_questions ON comments (label, answered_at) WHERE parent_external_id IS NULL;

-- Lower-cased @handles mentioned by each comment, to resolve "@asker here you go" answers.
CREATE TABLE comment_mentions (
    post_id             INTEGER NOT NULL REFERENCES posts (id),
    comment_external_id TEXT    NOT NULL,
    handle              TEXT    NOT NULL,
    PRIMARY KEY (post_id, handle, comment_external_id)
);

-- Where the comment walk of each post stands. Written in the same transaction as the comments of
-- the page it describes, so a crash never leaves the two apart.
CREATE TABLE poll_state (
    post_id     INTEGER PRIMARY KEY REFERENCES posts (id),
    -- created_at of the newest comment seen by the last complete walk.
    watermark   INTEGER,
    -- Cursor of the next page of an interrupted walk, and the newest created_at that walk has seen.
    walk_after  TEXT,
    walk_newest INTEGER,
    -- The platform's comment count when the store last accounted for every comment it announced.
    -- A different count means activity somewhere, possibly a reply deep in an old thread.
    reconciled_count INTEGER,
    updated_at  INTEGER NOT NULL
);
