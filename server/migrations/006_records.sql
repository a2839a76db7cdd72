-- Server schema 6: what a pull needs to know of a document's snapshot without reading it.
-- `record`: the record the snapshot makes, encoded (`Record::encode`, its format in the first
-- 4 bytes), sent along with it so a device new to the document takes it without reading the
-- document (protocol 4). NULL: the kind does not travel so, or the snapshot was stored
-- before this schema (its next compaction fills it in).
-- `digest`: `held_digest(id, heads the snapshot names)`, so a pull leaves out a document the
-- device holds at those heads without reading the snapshot. NULL: no snapshot, or one stored
-- before this schema (the snapshot is read then, as before).
-- Both are written and cleared together with `bytes`.
ALTER TABLE doc ADD COLUMN record BLOB;
ALTER TABLE doc ADD COLUMN digest BLOB;
