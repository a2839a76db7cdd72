-- PostgreSQL schema 1 of the sync log: the same model as the SQLite file (migrations 001 and
-- 002 there), for several server instances sharing one database. `change_log` is the truth
-- (every accepted automerge change, once, in commit order); `doc` holds each document's scope,
-- version and a snapshot that the background compaction keeps close to the log.

CREATE TABLE sync_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The last log position handed out. Every commit locks this one row (SELECT … FOR UPDATE)
-- before it writes and updates it before COMMIT, so commits take positions one after the
-- other, in commit order: a reader that sees position N + 1 also sees N, whichever instance
-- wrote them. (A SEQUENCE would hand out N + 1 to a transaction that may commit before N's.)
CREATE TABLE sync_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO sync_counter(id, seq) VALUES (1, 0);

CREATE TABLE doc (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    bytes        BYTEA NOT NULL,           -- snapshot of the changes up to snapshot_seq
    community    TEXT,
    grid         TEXT,
    is_street    BOOLEAN NOT NULL,
    version      BIGINT NOT NULL,          -- log position of the latest change
    snapshot_seq BIGINT NOT NULL DEFAULT 0,
    parent       TEXT,                     -- the document whose scope this one follows
    CHECK ((is_street AND community IS NULL AND grid IS NULL)
        OR (NOT is_street AND community IS NOT NULL))
);
CREATE INDEX doc_scope ON doc(is_street, community, grid);
CREATE INDEX doc_behind ON doc(id) WHERE snapshot_seq < version;
CREATE INDEX doc_parent ON doc(parent) WHERE parent IS NOT NULL;

CREATE TABLE change_log (
    seq         BIGINT PRIMARY KEY,
    doc_id      TEXT NOT NULL REFERENCES doc(id) DEFERRABLE INITIALLY DEFERRED,
    hash        BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
    device_id   TEXT NOT NULL,
    received_ms BIGINT NOT NULL,           -- the server's clock: the trusted time
    bytes       BYTEA NOT NULL            -- empty: a scope-move marker (random hash)
);
CREATE INDEX change_log_doc ON change_log(doc_id, seq);
