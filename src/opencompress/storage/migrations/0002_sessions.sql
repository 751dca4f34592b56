-- Sign-in sessions for the account console (REST API and dashboard), and an index for the usage
-- history filtered by key.
--
-- Only the SHA-256 of a session token is stored, so a copy of the database cannot be used to sign
-- in. Expired rows are deleted when the same account signs in again.

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id, expires_at);

CREATE INDEX usage_account_key_created ON usage (account_id, key_id, created_at DESC);
