-- PostgreSQL schema 3 of the sync component: evidence-photo blobs (as SQLite schema 5). The
-- bytes are not in the database: they live under the blob directory every instance shares
-- (or, later, a bucket); see `server/src/blobs/`.
CREATE TABLE blob (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    uploader   TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX blob_by_uploader ON blob(uploader);
CREATE TABLE blob_upload (
    sha256     TEXT NOT NULL,
    uploader   TEXT NOT NULL,
    total      BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    PRIMARY KEY (sha256, uploader)
);
CREATE INDEX blob_upload_by_uploader ON blob_upload(uploader);
