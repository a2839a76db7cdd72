-- Server schema 2: background compaction. A commit now only appends to the log and moves the
-- document's `version` (the log position of its latest change); `doc.bytes` is a snapshot of
-- the document's changes up to `snapshot_seq` (empty: none yet), rebuilt in the background
-- (server/src/sync/compact.rs). Loading a document reads the snapshot plus the later changes.
-- Schema-1 snapshots were rewritten at every commit, so they are current.
ALTER TABLE doc ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE doc ADD COLUMN snapshot_seq INTEGER NOT NULL DEFAULT 0;
UPDATE doc SET version = coalesce((SELECT max(seq) FROM change_log WHERE doc_id = doc.id), 0);
UPDATE doc SET snapshot_seq = version;
-- The documents whose snapshot is behind: what compaction looks for.
CREATE INDEX doc_behind ON doc(id) WHERE snapshot_seq < version;
