-- Schema 4: the attachment sync of evidence photos (core::sync::blobs). The upload queue is
-- derived from the records (every photo a hazard or inspection references and the device
-- holds) minus `photo_uploaded`, so it survives restarts without a queue of its own and can
-- never drift from the documents. A photo is entered here only after the server confirmed it
-- holds the whole, hash-checked blob (201, 200, or a HEAD answering 200).

CREATE TABLE photo_uploaded (
    sha256      TEXT PRIMARY KEY NOT NULL,
    uploaded_ms INTEGER NOT NULL          -- device clock (display only)
) STRICT, WITHOUT ROWID;

-- The last refusal of a photo's upload (404 document not on the server, 403, 413, 422, 507),
-- kept for the app to show until the photo is uploaded; the photo stays queued and is retried.
CREATE TABLE photo_refusal (
    sha256   TEXT PRIMARY KEY NOT NULL,
    doc_id   TEXT NOT NULL,               -- the record the upload went through
    reason   TEXT NOT NULL,               -- a PhotoRefusalReason code
    status   INTEGER NOT NULL,            -- the HTTP status
    attempts INTEGER NOT NULL,            -- refusals in a row
    at_ms    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
