-- Token lifecycle per account: the token the worker last obtained by a refresh (so it survives a
-- restart), when it expires, and why it died when it can no longer be renewed.
--
-- seed_fingerprint is a SHA-256 of the tokens exported in the environment that this row grew from:
-- when the user exports a new token (after a dead one, or a reauthorisation), the fingerprint
-- changes and the row starts over from the new token. The tokens themselves are stored as they are
-- sent to the platform, like any credential file: keep the database readable by its owner only.
CREATE TABLE account_tokens (
    account_id       INTEGER PRIMARY KEY REFERENCES accounts (id),
    seed_fingerprint TEXT    NOT NULL,
    -- Whether the worker renews this token itself (Instagram long-lived, OAuth refresh token).
    refreshable      INTEGER NOT NULL DEFAULT 0,
    -- The access token from the last refresh; NULL while the exported one is in use.
    access_token     TEXT,
    -- A refresh token the platform rotated (TikTok); NULL while the exported one is in use.
    refresh_token    TEXT,
    -- When the access token in use expires, if known.
    expires_at       INTEGER,
    -- When the access token in use was issued, if known (Instagram refreshes only after 24 h).
    issued_at        INTEGER,
    refreshed_at     INTEGER,
    -- Set when a refresh was refused for good (revoked, expired refresh token): what to do.
    dead_reason      TEXT,
    dead_at          INTEGER
);
