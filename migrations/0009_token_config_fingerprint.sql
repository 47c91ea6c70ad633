-- The refresh settings a token state was last used with: a SHA-256 of the client id, the client
-- secret, the token URL and the refresh mode (never the values themselves). When the user changes
-- any of them (after "check the client id in X and the client secret in Y"), a dead token is tried
-- again, while a refresh token the platform rotated is kept. NULL for rows written before this
-- column existed: they are tried again once.
ALTER TABLE account_tokens ADD COLUMN config_fingerprint TEXT;
