//! Evidence-photo blobs on the server (#5): the bytes of the photos that inspections and
//! hazards reference by SHA-256 (`PhotoRef.sha256`), stored apart from the documents, uploaded
//! in resumable chunks, checked against their hash before they are acknowledged, never served
//! half-written, counted against a per-user quota, and visible exactly to whoever may read a
//! document that references them.
//!
//! Owns: the blob store ([`BlobStore`]: the rules), the bytes ([`disk`]: [`BlobBytes`] and its
//! disk implementation), the metadata rows ([`meta`]) and the HTTP routes ([`routes`]). It must
//! not change documents or the sync log, and never serves the bytes of an unfinished upload.
//!
//! # Storage
//!
//! - **Bytes** are files under the data folder: `blobs/<ab>/<sha256>` (`ab` = the first two hex
//!   digits) once complete, `blobs/partial/<sha256>.<owner>` while uploading, where `owner` is
//!   the first 16 hex digits of SHA-256 of the uploader's user id: one partial upload per
//!   (blob, user), so two users uploading the same photo never mix their bytes. Every chunk is
//!   fsynced before its offset is acknowledged. The last chunk triggers a hash of the whole
//!   partial; only on a match is it renamed into place (fsync, atomic rename, fsync of both
//!   directories), so a completed file is whole by construction. A GET reads only completed
//!   files and re-hashes them before sending (photos are ~400 KB; a damaged file is a 500 and
//!   a log line, never wrong bytes).
//! - **Metadata** is in the server database: `blob(sha256, size, uploader, created_ms)` and
//!   `blob_upload(sha256, uploader, total, started_ms)` — the SQLite file (schema 5,
//!   `migrations/005_blobs.sql`) or PostgreSQL (`migrations/postgres/003_blobs.sql`). The file
//!   is the truth for "complete"; the rows are for the quota. A crash between the rename and
//!   the row leaves a complete file without a row: the next PUT of it records it.
//! - **Several instances** (`--db postgres://`): every instance must see the same blob
//!   directory, so `--data-dir` must be shared storage (NFS; the per-partial `flock` keeps two
//!   instances from writing one upload at once). The path for scale is an S3-compatible bucket
//!   behind the same [`BlobBytes`] trait (multipart upload per partial, copy to `<sha256>` once
//!   the hash matched); nothing above the trait changes. Not built yet. PostgreSQL large
//!   objects were not chosen: they would put hundreds of GB of immutable bytes in the
//!   database's WAL, backups and replication.
//!
//! # Protocol (`/v1/blobs/{sha256}?doc=<document id>`, bearer token)
//!
//! - `HEAD` → 200 with `Content-Length` when complete; 204 with `Upload-Offset: N` when this
//!   user has an upload in progress (resume at N); 404 otherwise.
//! - `PUT …&offset=N&total=T`, body = the next chunk (1 byte to 1 MiB; `T` ≤ 16 MiB). `N` must be
//!   the upload's current length, else 409 `offset_mismatch` with `"offset"` (also when another
//!   request is writing the same upload). A chunk that is not the last → 204 with
//!   `Upload-Offset`. The last one → the hash is checked: 201 when it matches (the blob is
//!   stored), 422 `hash_mismatch` otherwise (the upload is deleted; start again at 0). A blob
//!   already complete → 200 and nothing is written (idempotent).
//! - `GET` → the bytes, `image/jpeg`, `ETag: "<sha256>"`,
//!   `Cache-Control: private, max-age=31536000, immutable`.
//! - Authorization: `doc` must be an inspection or hazard the user may read (the rules of
//!   `GET /v1/docs/{id}`), and its content must reference the blob (an answer's photos; a
//!   hazard's photos or any event's photos). Anything else is 404, the same answer as for an
//!   unknown blob, so neither ids nor hashes can be probed. A PUT also needs the user's role to
//!   write that kind of document (else 403: the user can read the document anyway). A device
//!   therefore syncs the document before uploading its photos.
//! - Quota: per user, the bytes of completed blobs they uploaded first plus the totals of their
//!   uploads in progress (reserved at the first chunk), at most [`DEFAULT_QUOTA_BYTES`]; and at
//!   most [`MAX_UPLOADS_IN_PROGRESS`] uploads in progress. Over either → **507**
//!   `quota_exceeded` / `too_many_uploads` (not 413: that stays "this chunk is too large", which
//!   a client fixes by sending smaller chunks, while 507 tells it to stop and tell the user).
//!   Uploading a blob someone else already completed costs nothing.
//! - `GET …&variant=thumb` → the blob's thumbnail (JPEG, long side ≤ [`THUMB_SIDE`]), made
//!   from the hash-checked blob with the devices' own code and cached under
//!   `blobs/thumbs/<ab>/<sha256>` (with a trailing hash: a damaged cache entry is rebuilt).
//!   A thumbnail has no name in any document, so the server names it: `ETag:
//!   "thumb-<sha256 of the thumbnail>"`, which the device checks the body against (a cut or
//!   damaged transfer is refused). A blob that is not a decodable image → 415 `no_thumbnail`.
//!   A device on a weak link shows the 5 KB thumbnail long before the 150–400 KB photo.
//! - Abandoned uploads: an upload in progress that received no chunk for
//!   [`ABANDONED_AFTER_MS`] (7 days) is deleted with its row by `serve`'s hourly background
//!   task ([`BlobStore::expire_abandoned`]), so its reservation stops counting against the
//!   quota. Idle time is the partial file's modification time (every chunk writes it); the
//!   row's `started_ms` only preselects candidates.
//! - Rate limit: blob requests have their own per-device budget
//!   (`crate::http::BLOB_REQUESTS_PER_MINUTE`), apart from sync's, so a photo upload of many
//!   chunks never starves document sync of its budget (and the other way round).

pub mod disk;
pub mod meta;
pub(crate) mod routes;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use firegrid_core::access::User;
use firegrid_core::hazard::Hazard;
use firegrid_core::inspection::Inspection;
use firegrid_core::store::RecordKind;
use firegrid_core::{Error, Result};

pub use disk::{BlobBytes, ChunkOutcome, DiskBlobs};
pub use meta::{Reserve, Usage};

use crate::pg::PgPool;
use crate::sync::{SyncStorage, may_read, role_may_write};
use meta::Meta;

/// Largest chunk of one PUT.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Largest blob (a processed photo is under 400 KB; this leaves room for other evidence).
pub const MAX_BLOB_BYTES: u64 = 16 * 1024 * 1024;
/// Default per-user quota: completed uploads plus reservations of uploads in progress.
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Most uploads one user may have in progress at once.
pub const MAX_UPLOADS_IN_PROGRESS: u64 = 64;
/// An upload in progress that received no chunk for this long is abandoned: its bytes are
/// deleted and its quota reservation freed (by the serve background task).
pub const ABANDONED_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The long side of the thumbnails the server makes (`variant=thumb`), as the devices make them.
pub const THUMB_SIDE: u32 = 256;
/// Uploads looked at per expiry pass (the pass runs again at its next tick).
const EXPIRY_BATCH: u32 = 1000;

/// The blob store: bytes, metadata and the rules between them.
#[derive(Debug)]
pub struct BlobStore {
    bytes: Arc<dyn BlobBytes>,
    meta: Meta,
    quota: AtomicU64,
}

/// What a HEAD finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    /// Complete, this many bytes.
    Complete(u64),
    /// This user's upload is at this offset.
    Partial(u64),
    /// Nothing.
    Absent,
}

/// The answer to one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Already complete before this request: nothing written.
    AlreadyComplete,
    /// Appended; the upload is at this offset.
    Stored(u64),
    /// Hash checked and stored.
    Created,
    /// The offset is wrong (or another request is writing): resume at this one.
    WrongOffset(u64),
    /// The bytes do not hash to the name; the upload was deleted.
    HashMismatch,
    /// Over the user's byte quota.
    OverQuota(Usage),
    /// Too many uploads in progress.
    TooManyUploads,
}

/// The opaque key of `user`'s partial uploads: no user id in a file name.
fn owner_key(user: &str) -> String {
    let h = disk::sha256_hex(user.as_bytes()).unwrap_or_default();
    h[..16.min(h.len())].to_string()
}

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn io(e: std::io::Error) -> Error {
    Error::Backend(format!("blob storage: {e}"))
}

impl BlobStore {
    /// Bytes under `dir` (created), metadata in the server's SQLite file `sync_db` (opened by
    /// the sync store first, which migrates it).
    pub fn open_sqlite(dir: &Path, sync_db: &Path) -> Result<BlobStore> {
        Ok(BlobStore::new(
            Arc::new(DiskBlobs::open(dir).map_err(io)?),
            Meta::sqlite(sync_db)?,
        ))
    }

    /// Bytes under `dir` (which every instance must share), metadata in PostgreSQL (migrated by
    /// the sync store).
    pub fn open_postgres(dir: &Path, pool: Arc<PgPool>) -> Result<BlobStore> {
        Ok(BlobStore::new(
            Arc::new(DiskBlobs::open(dir).map_err(io)?),
            Meta::Postgres(pool),
        ))
    }

    fn new(bytes: Arc<dyn BlobBytes>, meta: Meta) -> BlobStore {
        BlobStore {
            bytes,
            meta,
            quota: AtomicU64::new(DEFAULT_QUOTA_BYTES),
        }
    }

    /// Sets the per-user quota in bytes.
    pub fn set_quota(&self, bytes: u64) {
        self.quota.store(bytes, Ordering::Relaxed);
    }

    /// `user`'s usage now.
    pub fn usage(&self, user: &str) -> Result<Usage> {
        self.meta.usage(user)
    }

    /// Whether `user` may see blob `sha` through document `doc_id` (and, with `write`, upload
    /// it): the document is an inspection or hazard the user may read and it references `sha`.
    /// `Ok(None)` = not found (also for anything the user may not see); `Ok(Some(false))` = may
    /// see but not write.
    pub fn authorize(
        storage: &dyn SyncStorage,
        user: &User,
        sha: &str,
        doc_id: &str,
        write: bool,
    ) -> Result<Option<bool>> {
        if !is_sha256(sha) || firegrid_core::vocab::validate_id("doc", doc_id).is_err() {
            return Ok(None);
        }
        let Some(stored) = storage.load_doc(doc_id)? else {
            return Ok(None);
        };
        if !matches!(stored.kind, RecordKind::Inspection | RecordKind::Hazard) {
            return Ok(None);
        }
        // Visible as the document is to a pull: by the scope on its row.
        if !may_read(storage, user, &stored.scope)? {
            return Ok(None);
        }
        let doc = stored.to_automerge(doc_id)?;
        let referenced = match stored.kind {
            RecordKind::Inspection => {
                let i: Inspection =
                    autosurgeon::hydrate(&doc).map_err(|e| Error::corrupt(doc_id, e))?;
                i.answers
                    .values()
                    .any(|a| a.photos.iter().any(|p| p.sha256 == sha))
            }
            _ => {
                let h: Hazard =
                    autosurgeon::hydrate(&doc).map_err(|e| Error::corrupt(doc_id, e))?;
                h.photos.iter().any(|p| p.sha256 == sha)
                    || h.events
                        .iter()
                        .any(|e| e.photos.iter().any(|p| p.sha256 == sha))
            }
        };
        if !referenced {
            return Ok(None);
        }
        Ok(Some(!write || role_may_write(user.role, stored.kind)))
    }

    /// What `user` finds for `sha`.
    pub fn state(&self, sha: &str, user: &str) -> Result<BlobState> {
        if let Some(size) = self.bytes.size(sha).map_err(io)? {
            return Ok(BlobState::Complete(size));
        }
        Ok(
            match (
                self.meta.upload(sha, user)?,
                self.bytes.partial_len(sha, &owner_key(user)).map_err(io)?,
            ) {
                (Some(_), Some(len)) => BlobState::Partial(len),
                (Some(_), None) => BlobState::Partial(0),
                _ => BlobState::Absent,
            },
        )
    }

    /// The bytes of the completed blob `sha`, checked against their hash; `None` when it is not
    /// complete.
    pub fn read(&self, sha: &str) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.bytes.read(sha).map_err(io)? else {
            return Ok(None);
        };
        if disk::sha256_hex(bytes.as_slice()).map_err(io)? != sha {
            return Err(Error::Integrity(format!(
                "stored blob {sha} does not match its hash"
            )));
        }
        Ok(Some(bytes))
    }

    /// Stores one chunk of `user`'s upload of `sha` (the caller has authorized it and checked
    /// `0 < chunk.len() <= MAX_CHUNK_BYTES`, `offset + chunk.len() <= total <= MAX_BLOB_BYTES`).
    pub fn put(
        &self,
        sha: &str,
        user: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
        now_ms: i64,
    ) -> Result<PutOutcome> {
        if let Some(size) = self.bytes.size(sha).map_err(io)? {
            // Complete (maybe by another user, maybe before a crash left no row): record it if
            // needed and write nothing.
            if self.meta.blob(sha)?.is_none() {
                self.meta.complete(sha, size, user, now_ms)?;
            }
            return Ok(PutOutcome::AlreadyComplete);
        }
        let owner = owner_key(user);
        match self.meta.upload(sha, user)? {
            Some(reserved) if reserved == total => {}
            existing => {
                // No upload in progress (or one declared with another total: it cannot be
                // these bytes). Anything on disk without a row is an orphan.
                if existing.is_some() {
                    self.meta.drop_upload(sha, user)?;
                }
                self.bytes.discard(sha, &owner).map_err(io)?;
                if offset != 0 {
                    return Ok(PutOutcome::WrongOffset(0));
                }
                match self.meta.reserve(
                    sha,
                    user,
                    total,
                    self.quota.load(Ordering::Relaxed),
                    MAX_UPLOADS_IN_PROGRESS,
                    now_ms,
                )? {
                    Reserve::Reserved => {}
                    Reserve::OverQuota(usage) => return Ok(PutOutcome::OverQuota(usage)),
                    Reserve::TooManyUploads => return Ok(PutOutcome::TooManyUploads),
                }
            }
        }
        Ok(
            match self
                .bytes
                .write_chunk(sha, &owner, offset, total, chunk)
                .map_err(io)?
            {
                ChunkOutcome::Stored(len) => PutOutcome::Stored(len),
                ChunkOutcome::WrongOffset(len) | ChunkOutcome::Busy(len) => {
                    PutOutcome::WrongOffset(len)
                }
                ChunkOutcome::Complete(size) => {
                    self.meta.complete(sha, size, user, now_ms)?;
                    PutOutcome::Created
                }
                ChunkOutcome::HashMismatch => {
                    self.meta.drop_upload(sha, user)?;
                    PutOutcome::HashMismatch
                }
            },
        )
    }

    /// The thumbnail (JPEG, long side ≤ [`THUMB_SIDE`]) of the completed blob `sha`, made
    /// from the hash-checked blob with the devices' own code
    /// ([`firegrid_core::photo::thumbnail_of_stored`]) and cached beside it; `None` when the
    /// blob is not complete. A blob that is not a decodable JPEG is [`Error::Invalid`].
    pub fn thumbnail(&self, sha: &str) -> Result<Option<Vec<u8>>> {
        if let Some(cached) = self.bytes.read_thumbnail(sha).map_err(io)?
            && self.bytes.size(sha).map_err(io)?.is_some()
        {
            return Ok(Some(cached));
        }
        let Some(photo) = self.read(sha)? else {
            return Ok(None);
        };
        let thumb = firegrid_core::photo::thumbnail_of_stored(&photo, THUMB_SIDE)?;
        // A cache: serving it matters more than keeping it.
        if let Err(e) = self.bytes.write_thumbnail(sha, &thumb) {
            tracing::warn!(blob = %sha, error = %e, "cannot cache a thumbnail");
        }
        Ok(Some(thumb))
    }

    /// Deletes the uploads in progress that received no chunk for `idle_ms` (their bytes and
    /// rows), freeing their quota reservations; returns how many. A device that comes back
    /// later starts that photo again from offset 0 (its `HEAD` finds nothing).
    pub fn expire_abandoned(&self, now_ms: i64, idle_ms: i64) -> Result<u64> {
        let cutoff = now_ms.saturating_sub(idle_ms);
        let mut expired = 0;
        for (sha, user) in self.meta.uploads_started_before(cutoff, EXPIRY_BATCH)? {
            let owner = owner_key(&user);
            let touched = self.bytes.partial_touched_ms(&sha, &owner).map_err(io)?;
            if touched.is_some_and(|t| t >= cutoff) {
                continue; // started long ago, but still moving
            }
            self.bytes.discard(&sha, &owner).map_err(io)?;
            self.meta.drop_upload(&sha, &user)?;
            expired += 1;
        }
        Ok(expired)
    }

    /// The user's quota in bytes.
    pub fn quota(&self) -> u64 {
        self.quota.load(Ordering::Relaxed)
    }
}
