-- Server schema 6: the record a document's snapshot makes, encoded (`Record::encode`, its
-- format in the first 4 bytes), stored with the snapshot so a pull can send it along and a
-- device new to the document takes it without reading the document (protocol 4). NULL: the
-- kind does not travel so, or the snapshot was stored before this schema (its next
-- compaction fills it in). Always written and cleared together with `bytes`.
ALTER TABLE doc ADD COLUMN record BLOB;
