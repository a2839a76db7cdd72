-- Server schema 3: scope moves. `doc.parent` names the document a document takes its scope
-- from (an inspection's or a hazard's premises); when the parent moves to another grid or
-- community, its children move with it. A log row with empty `bytes` is a move marker: it
-- gives the moved document a new position, and a pull that meets it sends the document's
-- whole history to devices that just gained it. Markers carry a random `hash` (the column is
-- unique and 32 bytes long) and are never part of a document.
ALTER TABLE doc ADD COLUMN parent TEXT;
CREATE INDEX doc_parent ON doc(parent) WHERE parent IS NOT NULL;
