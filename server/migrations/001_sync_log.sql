-- Server schema 1: the sync log. `change_log` is the truth (every accepted automerge change,
-- once, in commit order); `doc` holds each document's snapshot (Automerge::save of its stored
-- changes) and its scope, both rewritten in the transaction that appends its changes.

-- Server settings: `epoch` (random, new whenever the history is replaced, e.g. restored).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- One row per document. The scope is kept in columns so a pull filters by scope in SQL:
-- street-wide (`is_street = 1`, no community or grid), or an area (`community`, maybe `grid`).
CREATE TABLE doc (
    id        TEXT PRIMARY KEY NOT NULL,
    kind      TEXT NOT NULL,
    bytes     BLOB NOT NULL,             -- Automerge::save() of every stored change
    community TEXT,
    grid      TEXT,
    is_street INTEGER NOT NULL,
    CHECK ((is_street = 1 AND community IS NULL AND grid IS NULL)
        OR (is_street = 0 AND community IS NOT NULL))
) STRICT;
-- Covering index: a pull reads the distinct scopes from it without touching the documents.
CREATE INDEX doc_scope ON doc(is_street, community, grid);

-- Append-only log of accepted changes. `seq` is the log position a pull cursor counts in; it is
-- handed out under SQLite's single write lock, so positions become visible in commit order.
-- Rows are never updated; they are only deleted when a restore replaces the history.
-- `bytes` comes last so reading the other columns never touches a large change's overflow pages.
CREATE TABLE change_log (
    seq         INTEGER PRIMARY KEY,     -- no AUTOINCREMENT: positions stay contiguous
    doc_id      TEXT NOT NULL REFERENCES doc(id) DEFERRABLE INITIALLY DEFERRED,
    hash        BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    device_id   TEXT NOT NULL,           -- the device that sent it ('seed' for fixtures)
    received_ms INTEGER NOT NULL,        -- the server's clock: the trusted time (D9)
    bytes       BLOB NOT NULL            -- the raw automerge change
) STRICT;
CREATE INDEX change_log_doc ON change_log(doc_id, seq);
