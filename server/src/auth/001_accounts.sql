-- Accounts of the sync server: credentials, devices and tokens. Kept apart from the sync
-- data: nothing here is ever sent to a device, and no secret is stored in clear.

CREATE TABLE account (
    user_id       TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE device (
    id            TEXT PRIMARY KEY NOT NULL,   -- UUID made by the device
    user_id       TEXT NOT NULL,
    registered_ms INTEGER NOT NULL,
    revoked_ms    INTEGER
) STRICT;

CREATE TABLE token (
    hash       BLOB PRIMARY KEY NOT NULL,      -- SHA-256 of the token
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family     TEXT NOT NULL,                  -- one login and its refreshes
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    issued_ms  INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    revoked_ms INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX token_family ON token(family);
CREATE INDEX token_device ON token(device_id);
