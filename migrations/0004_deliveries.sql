-- Digests and their deliveries: each digest is rendered once per recipient and period, and each
-- channel's delivery of it is tracked until it is sent, across crashes and restarts.

CREATE TABLE digests (
    id          INTEGER PRIMARY KEY,
    recipient   TEXT    NOT NULL,
    -- The send slot this digest is for, e.g. `2026-11-28T09:00+01:00`, or `now:<unix>` for a
    -- one-off send.
    period      TEXT    NOT NULL,
    rendered_at INTEGER NOT NULL,
    -- The digest as rendered once, in every format the channels need (JSON object of strings).
    body        TEXT    NOT NULL,
    UNIQUE (recipient, period)
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    digest_id       INTEGER NOT NULL REFERENCES digests (id),
    -- Secret-free channel name, e.g. `email:jess@example.com`, `slack:SLACK_WEBHOOK_JESS`.
    channel         TEXT    NOT NULL,
    -- Sent with every attempt (header, Message-ID), so a receiver can drop a repeat after a crash
    -- between its acceptance and our record of it.
    idempotency_key TEXT    NOT NULL UNIQUE,
    -- pending | sent
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    UNIQUE (digest_id, channel)
);

CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);

-- Which questions a recipient has already been shown, so a still-open one comes back marked as a
-- reminder rather than as new.
CREATE TABLE digest_listings (
    recipient   TEXT    NOT NULL,
    comment_id  INTEGER NOT NULL REFERENCES comments (id),
    first_digest INTEGER NOT NULL REFERENCES digests (id),
    PRIMARY KEY (recipient, comment_id)
);
