-- PostgreSQL schema 4 of the sync component: the encoded record and the held digest of a
-- document's snapshot (as SQLite schema 6), written and cleared together with `bytes`.
ALTER TABLE doc ADD COLUMN record BYTEA;
ALTER TABLE doc ADD COLUMN digest BYTEA;
