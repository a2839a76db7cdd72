-- Accounts of the sync server on PostgreSQL: the same tables as 001_accounts.sql (SQLite), with
-- PostgreSQL types. Every server instance shares them: a token issued by one works on all, and a
-- disable or a revocation done by one is seen by all at the next request.

CREATE TABLE account (
    user_id       TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms    BIGINT NOT NULL
);

CREATE TABLE device (
    id            TEXT PRIMARY KEY,       -- UUID made by the device
    user_id       TEXT NOT NULL,
    registered_ms BIGINT NOT NULL,
    revoked_ms    BIGINT
);

CREATE TABLE token (
    hash       BYTEA PRIMARY KEY,         -- SHA-256 of the token
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family     TEXT NOT NULL,             -- one login and its refreshes
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    issued_ms  BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
CREATE INDEX token_family ON token(family);
CREATE INDEX token_device ON token(device_id);
