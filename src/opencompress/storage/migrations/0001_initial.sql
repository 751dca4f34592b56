-- Initial schema: accounts, API keys, balance holds, per-request usage and the money ledger.
--
-- Portable SQL for SQLite and PostgreSQL. Ids are TEXT, money is BIGINT micro-dollars, timestamps
-- are DOUBLE PRECISION epoch seconds. The two dialect differences are written as tokens that
-- opencompress.storage.migrate substitutes: @BYTES@ (BLOB / BYTEA) and @SERIAL_PK@ (an
-- auto-incrementing integer primary key).

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    password_hash TEXT,
    balance_micros BIGINT NOT NULL DEFAULT 0 CHECK (balance_micros >= 0),
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    mode TEXT NOT NULL CHECK (mode IN ('router', 'byok')),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    rpm_limit INTEGER,
    concurrency_limit INTEGER,
    compression_level TEXT,
    upstream_base_url TEXT,
    upstream_key_encrypted @BYTES@,
    created_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION
);

CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

-- Money held for in-flight requests; available balance = balance - unexpired holds.
CREATE TABLE holds (
    request_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    amount_micros BIGINT NOT NULL CHECK (amount_micros > 0),
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX holds_account ON holds (account_id, expires_at);

-- One row per finished request; the primary key makes each request chargeable exactly once.
CREATE TABLE usage (
    request_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    model TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('router', 'byok')),
    original_input_tokens BIGINT NOT NULL,
    compressed_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    original_cost_micros BIGINT NOT NULL,
    actual_cost_micros BIGINT NOT NULL,
    savings_micros BIGINT NOT NULL,
    fee_micros BIGINT NOT NULL,
    charge_micros BIGINT NOT NULL,
    charged_micros BIGINT NOT NULL CHECK (charged_micros >= 0),
    compression_ms DOUBLE PRECISION NOT NULL,
    ttfb_ms DOUBLE PRECISION,
    total_ms DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX usage_account_created ON usage (account_id, created_at DESC, request_id DESC);

-- Every balance change: credits positive, charges negative; sum per account = balance.
CREATE TABLE ledger (
    id @SERIAL_PK@,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    amount_micros BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('credit', 'charge')),
    reason TEXT NOT NULL,
    request_id TEXT UNIQUE,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX ledger_account ON ledger (account_id, id);
