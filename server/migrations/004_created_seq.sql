-- Server schema 4: `doc.created_seq`, the log position of a document's first change. A pull
-- from a cursor before it may send the whole document (its snapshot and the changes after
-- it) instead of each change: the device cannot hold any of it from this server's log.
ALTER TABLE doc ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
UPDATE doc SET created_seq =
    coalesce((SELECT min(seq) FROM change_log WHERE doc_id = doc.id), 0);
