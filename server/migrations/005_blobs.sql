-- Server schema 5: evidence-photo blobs (#5). The bytes live in files under the data folder
-- (`blobs/ab/<sha256>`, see `server/src/blobs/`); this records who uploaded each completed
-- blob (quota) and which uploads are in progress (their declared total is reserved against
-- the uploader's quota until they complete or are discarded).
CREATE TABLE blob (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    uploader   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX blob_by_uploader ON blob(uploader);
CREATE TABLE blob_upload (
    sha256     TEXT NOT NULL,
    uploader   TEXT NOT NULL,
    total      INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    PRIMARY KEY (sha256, uploader)
);
CREATE INDEX blob_upload_by_uploader ON blob_upload(uploader);
