-- Schema 2: the device's sync state.

-- The heads the server has acknowledged holding for each record ('' = nothing acknowledged).
-- A record whose heads differ has changes to push.
ALTER TABLE record ADD COLUMN synced_heads TEXT NOT NULL DEFAULT '';
CREATE INDEX record_unsynced ON record(id) WHERE heads <> synced_heads;

-- Records imported at schema 1 were reference data from fixtures, which the server seeds from
-- the same fixtures (byte-identical documents): they count as acknowledged. Inspections and
-- hazards recorded on the device were never sent.
UPDATE record SET synced_heads = heads
 WHERE kind NOT IN ('inspection', 'hazard');

-- Pushes the server refused: not sent again until the record changes.
CREATE TABLE sync_refusal (
    doc_id TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    heads  TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms  INTEGER NOT NULL
) STRICT;

-- Documents received from the server that do not make a valid record of their kind: kept
-- aside (never dropped) for support, and not applied.
CREATE TABLE sync_quarantine (
    doc_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    changes BLOB NOT NULL,
    problem TEXT NOT NULL,
    at_ms   INTEGER NOT NULL
) STRICT;
