-- Schema 5: the push outbox. Every local change (made through `record::save`) is also kept
-- here, raw, in the transaction that saves its document, so that `Store::sync_request` can
-- push a record's changes after its `synced_heads` without loading the document. Changes
-- received from the server never enter it.
--
-- `seq` only grows (AUTOINCREMENT: never reused, even after the newest rows are deleted), so an
-- acknowledgement covers exactly the rows up to the highest `seq` its request read.
CREATE TABLE push_outbox (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    change BLOB NOT NULL                 -- Change::raw_bytes() of one local change
) STRICT;
CREATE INDEX push_outbox_doc ON push_outbox(doc_id, seq);

-- The heads (sorted, comma-separated hex, as `heads`) the record's outbox rows start after:
-- every local change not among their ancestors is in the outbox. NULL = no basis (records
-- changed before this schema, or whose outbox was dropped): their push loads the document.
ALTER TABLE record ADD COLUMN outbox_from TEXT;
