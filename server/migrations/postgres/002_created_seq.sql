-- PostgreSQL schema 2 of the sync log: `doc.created_seq`, the log position of a document's
-- first change (as SQLite schema 4). A pull from a cursor before it sends the whole document.
ALTER TABLE doc ADD COLUMN created_seq BIGINT NOT NULL DEFAULT 0;
UPDATE doc SET created_seq =
    coalesce((SELECT min(seq) FROM change_log WHERE doc_id = doc.id), 0);
