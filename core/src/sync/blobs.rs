//! The attachment sync of evidence photos (#5), apart from document sync: uploads of the
//! photos the server lacks, in resumable chunks, and downloads on demand, thumbnail first.
//!
//! - **Upload** ([`Store::sync_photos`]): the queue is [`Store::photo_upload_queue`] (hazards'
//!   photos first, most severe first, then inspections'). Per photo: `HEAD` for the server's
//!   offset of this user's upload (or "complete"), then `PUT` [`CHUNK_BYTES`] chunks from
//!   there; the photo is marked uploaded only after the server's `201`/`200` (or a `HEAD`
//!   saying it is complete), so a photo is never forgotten because a connection dropped after
//!   the server said "yes" to a chunk but before it said "stored". A refusal (404: the record
//!   is not on the server yet or not visible; 403; 413; 422; 507) is recorded with its reason
//!   ([`Store::photo_refusals`]) and the photo stays queued for the next run; a 507 stops the
//!   run (every later photo would get it too). Network errors and 429/5xx back off like
//!   [`super::http::sync_with_retry`] (the server's Retry-After honoured), starting again from
//!   a `HEAD`; a photo whose upload advanced gets its attempts back, so a flaky link that
//!   moves forward never gives up. A photo sync takes its own lock, never the document sync's:
//!   documents sync while photos upload; a second photo sync fails with `AlreadySyncing`.
//! - **Download** ([`Store::fetch_photo`]): for a photo that a record on the device references
//!   but the device lacks. Thumbnail first when asked (the server makes it from the verified
//!   blob with [`crate::photo::thumbnail_of_stored`] and caches it): a thumbnail is derived
//!   data, not evidence, so it has no name of its own in any document; the server names it in
//!   its `ETag` (`"thumb-<sha256 of the thumbnail>"`) and the device checks the body's hash
//!   and length against that (a cut or damaged transfer is refused; trust in the content is
//!   that of the authenticated TLS connection). Then the photo, checked against the hash the
//!   document names: a mismatch is refused and nothing is stored.
//!
//! The steps run over a [`BlobTransport`] (HTTP in [`HttpClient`]); the store keeps the state.

use std::time::Duration;

use super::http::{HttpClient, RetryPolicy, is_transient, network};
use crate::photo::{sha256_hex, validate_sha256};
use crate::store::{PhotoRefusal, PhotoRefusalReason, QueuedPhoto};
use crate::{Error, Result, Store};

/// The chunk size of uploads: the server's largest chunk (1 MiB).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// Wrong-offset answers in a row after which an upload is given up for this run (another
/// device of the same user uploading the same photo at the same time).
const MAX_OFFSET_CONFLICTS: u32 = 8;

/// What the server holds of a blob, for this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteBlob {
    /// Complete, this many bytes.
    Complete(u64),
    /// This user's upload is at this offset.
    Partial(u64),
    /// Nothing (or nothing this user may see).
    Absent,
}

/// The server's answer to one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkReply {
    /// Stored; the upload is at this offset.
    Stored(u64),
    /// The last chunk: hash checked, the blob is stored (`201`).
    Created,
    /// The blob was already complete (`200`).
    AlreadyComplete,
    /// The offset was wrong: resume at this one (`409`).
    WrongOffset(u64),
    /// Refused, with the HTTP status.
    Refused(PhotoRefusalReason, u16),
}

/// A downloaded blob or thumbnail, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The body.
    pub bytes: Vec<u8>,
    /// The `ETag` header without its quotes, if any.
    pub etag: Option<String>,
    /// The `Content-Length` header, if any.
    pub content_length: Option<u64>,
}

/// The blob requests of the attachment sync. `doc` is the record that references the blob
/// (the server authorizes through it).
pub trait BlobTransport {
    /// `HEAD /v1/blobs/{sha}`.
    fn head(&self, sha: &str, doc: &str) -> Result<RemoteBlob>;
    /// `PUT /v1/blobs/{sha}` of `chunk` at `offset` of `total` bytes.
    fn put(
        &self,
        sha: &str,
        doc: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> Result<ChunkReply>;
    /// `GET /v1/blobs/{sha}` (the thumbnail variant with `thumbnail`); `None` when the server
    /// does not hold it (or the user may not see it).
    fn get(&self, sha: &str, doc: &str, thumbnail: bool) -> Result<Option<Download>>;
}

/// Progress of a photo sync, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhotoProgress {
    /// Photos done (uploaded, found on the server, or refused).
    pub photos_done: u64,
    /// Photos in the queue when the run started.
    pub photos_total: u64,
    /// Bytes of the queue's photos done (a partly uploaded photo counts its offset).
    pub bytes_done: u64,
    /// Bytes of every queued photo.
    pub bytes_total: u64,
}

/// The outcome of a photo sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhotoSyncReport {
    /// Photos uploaded by this run.
    pub uploaded: u64,
    /// Photos the server already held (uploaded before, or by someone else).
    pub already_on_server: u64,
    /// Bytes of the photos this run uploaded.
    pub bytes_sent: u64,
    /// Photos refused in this run (still queued; also in [`Store::photo_refusals`]).
    pub refused: Vec<PhotoRefusal>,
    /// Photos left for a later run because the run stopped at a refusal that applies to all
    /// (507).
    pub not_attempted: u64,
    /// Queued photos whose file on this device no longer matches its hash (left queued; the
    /// app can ask the worker to retake them).
    pub damaged_locally: u64,
    /// Referenced photos this device does not hold (never uploaded from here).
    pub not_held: u64,
}

/// What [`Store::fetch_photo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhotoFetch {
    /// A thumbnail was downloaded and stored.
    pub thumbnail_fetched: bool,
    /// The photo was downloaded, verified and stored.
    pub photo_fetched: bool,
    /// The device held the photo already (nothing downloaded).
    pub already_held: bool,
}

/// How one upload ended.
enum Uploaded {
    Done { already: bool },
    Refused(PhotoRefusalReason, u16),
}

impl Store {
    /// Uploads every queued photo the server lacks (see the module documentation), retrying
    /// network errors with `policy` and `sleep`; `progress` after every chunk. Run it after a
    /// document sync (a photo is accepted once the record referencing it is on the server).
    ///
    /// Errors: `AlreadySyncing` when a photo sync of this store is running; `Unauthorized`
    /// (refresh the session); `Network` / `RateLimited` / `Server` when the retries ran out.
    /// Everything done before the error is kept; the next run continues where this one
    /// stopped (the server keeps partial uploads).
    pub fn sync_photos(
        &self,
        transport: &dyn BlobTransport,
        policy: RetryPolicy,
        sleep: &mut dyn FnMut(Duration),
        progress: &mut dyn FnMut(PhotoProgress),
    ) -> Result<PhotoSyncReport> {
        let _guard = self.photo_guard()?;
        let queue = self.photo_upload_queue()?;
        let blobs = self.photos()?;
        let mut report = PhotoSyncReport {
            not_held: queue.not_held,
            ..PhotoSyncReport::default()
        };
        let mut p = PhotoProgress {
            photos_total: queue.queued.len() as u64,
            bytes_total: queue.queued.iter().map(|q| q.size).sum(),
            ..PhotoProgress::default()
        };
        progress(p);
        for (i, photo) in queue.queued.iter().enumerate() {
            let bytes = match blobs.get(&photo.sha256) {
                Ok(b) => b,
                Err(Error::CorruptRecord { .. } | Error::NotFound { .. }) => {
                    report.damaged_locally += 1;
                    p.photos_done += 1;
                    p.bytes_done += photo.size;
                    progress(p);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let base = p.bytes_done;
            let outcome = upload_one(transport, photo, &bytes, policy, sleep, &mut |offset| {
                progress(PhotoProgress {
                    bytes_done: base + offset,
                    ..p
                });
            })?;
            p.photos_done += 1;
            p.bytes_done = base + photo.size;
            match outcome {
                Uploaded::Done { already } => {
                    self.mark_photo_uploaded(&photo.sha256)?;
                    if already {
                        report.already_on_server += 1;
                    } else {
                        report.uploaded += 1;
                        report.bytes_sent += bytes.len() as u64;
                    }
                }
                Uploaded::Refused(reason, status) => {
                    report.refused.push(self.record_photo_refusal(
                        &photo.sha256,
                        &photo.doc_id,
                        reason,
                        status,
                    )?);
                    if reason.stops_the_run() {
                        report.not_attempted = (queue.queued.len() - i - 1) as u64;
                        progress(p);
                        return Ok(report);
                    }
                }
            }
            progress(p);
        }
        Ok(report)
    }

    /// [`Store::sync_photos`] over HTTP, sleeping on this thread between retries.
    pub fn sync_photos_http(
        &self,
        client: &HttpClient,
        access_token: &str,
        policy: RetryPolicy,
        progress: &mut dyn FnMut(PhotoProgress),
    ) -> Result<PhotoSyncReport> {
        let transport = HttpBlobs {
            client,
            access_token,
        };
        self.sync_photos(&transport, policy, &mut std::thread::sleep, progress)
    }

    /// [`Store::fetch_photo`] over HTTP.
    pub fn fetch_photo_http(
        &self,
        client: &HttpClient,
        access_token: &str,
        sha256: &str,
        thumbnail_first: bool,
        on_thumbnail: &mut dyn FnMut(&[u8]),
    ) -> Result<PhotoFetch> {
        let transport = HttpBlobs {
            client,
            access_token,
        };
        self.fetch_photo(&transport, sha256, thumbnail_first, on_thumbnail)
    }

    /// Downloads a photo that a record on this device references and the device lacks; with
    /// `thumbnail_first`, its thumbnail before it (handed to `on_thumbnail` as soon as it is
    /// verified and stored, so the app can show it while the photo comes). Both are verified
    /// (see the module documentation) and stored in the store's photo folder; the photo is
    /// then known to be on the server.
    ///
    /// Errors: `NotFound` (kind `photo`) when no record here references it, or the server
    /// does not hold it (not uploaded yet) or the user may not see it; `CorruptRecord` (id =
    /// the hash) when a download does not match — nothing of it is stored; `StorageFull`;
    /// the network errors.
    pub fn fetch_photo(
        &self,
        transport: &dyn BlobTransport,
        sha256: &str,
        thumbnail_first: bool,
        on_thumbnail: &mut dyn FnMut(&[u8]),
    ) -> Result<PhotoFetch> {
        validate_sha256("sha256", sha256)?;
        let blobs = self.photos()?;
        let mut fetch = PhotoFetch::default();
        if blobs.has(sha256)? && blobs.get(sha256).is_ok() {
            fetch.already_held = true;
            return Ok(fetch);
        }
        let doc = self.photo_record(sha256)?;
        if thumbnail_first && !blobs.has_thumbnail(sha256)? {
            let Some(d) = transport.get(sha256, &doc, true)? else {
                return Err(Error::not_found("photo", sha256));
            };
            verify_thumbnail(sha256, &d)?;
            blobs.put_thumbnail(sha256, &d.bytes)?;
            fetch.thumbnail_fetched = true;
            on_thumbnail(&d.bytes);
        }
        let Some(d) = transport.get(sha256, &doc, false)? else {
            return Err(Error::not_found("photo", sha256));
        };
        if sha256_hex(&d.bytes) != sha256
            || d.content_length.is_some_and(|n| n != d.bytes.len() as u64)
        {
            return Err(Error::corrupt(
                sha256,
                "the downloaded photo does not match its SHA-256; nothing was stored",
            ));
        }
        blobs.put(&d.bytes)?;
        fetch.photo_fetched = true;
        self.mark_photo_uploaded(sha256)?;
        Ok(fetch)
    }
}

/// A thumbnail is whole when its hash and length are the ones the server announced.
fn verify_thumbnail(sha256: &str, d: &Download) -> Result<()> {
    let announced = d.etag.as_deref().and_then(|e| e.strip_prefix("thumb-"));
    let whole = announced == Some(sha256_hex(&d.bytes).as_str())
        && d.content_length.is_none_or(|n| n == d.bytes.len() as u64)
        && !d.bytes.is_empty();
    if whole {
        Ok(())
    } else {
        Err(Error::corrupt(
            sha256,
            "the downloaded thumbnail does not match the server's ETag; nothing was stored",
        ))
    }
}

/// Uploads one photo, retrying transient errors from a fresh `HEAD`; the attempts start over
/// whenever the upload moved forward. `on_offset` gets the bytes the server holds.
fn upload_one(
    transport: &dyn BlobTransport,
    photo: &QueuedPhoto,
    bytes: &[u8],
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
    on_offset: &mut dyn FnMut(u64),
) -> Result<Uploaded> {
    let mut attempt = 1;
    let mut furthest = 0;
    loop {
        let mut reached = furthest;
        match try_upload(transport, photo, bytes, &mut |o| {
            reached = reached.max(o);
            on_offset(o);
        }) {
            Ok(done) => return Ok(done),
            Err(e) if is_transient(&e) && attempt < policy.attempts.max(1) => {
                if reached > furthest {
                    furthest = reached;
                    attempt = 1;
                }
                let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
                sleep(policy.delay(attempt, &e, jitter));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt: `HEAD`, then chunks from the server's offset until the server has it all.
fn try_upload(
    transport: &dyn BlobTransport,
    photo: &QueuedPhoto,
    bytes: &[u8],
    on_offset: &mut dyn FnMut(u64),
) -> Result<Uploaded> {
    let total = bytes.len() as u64;
    let (sha, doc) = (photo.sha256.as_str(), photo.doc_id.as_str());
    let mut offset = match transport.head(sha, doc)? {
        RemoteBlob::Complete(_) => return Ok(Uploaded::Done { already: true }),
        RemoteBlob::Partial(o) if o < total => o,
        RemoteBlob::Partial(_) | RemoteBlob::Absent => 0,
    };
    on_offset(offset);
    let mut conflicts = 0;
    loop {
        // `offset < total` holds here: a chunk is never empty.
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = (start + CHUNK_BYTES).min(bytes.len());
        match transport.put(sha, doc, offset, total, &bytes[start..end])? {
            ChunkReply::Created => {
                on_offset(total);
                return Ok(Uploaded::Done { already: false });
            }
            ChunkReply::AlreadyComplete => return Ok(Uploaded::Done { already: true }),
            ChunkReply::Refused(reason, status) => return Ok(Uploaded::Refused(reason, status)),
            ChunkReply::Stored(o) if o > offset && o < total => {
                conflicts = 0;
                offset = o;
                on_offset(o);
            }
            ChunkReply::Stored(o) | ChunkReply::WrongOffset(o) => {
                conflicts += 1;
                if conflicts > MAX_OFFSET_CONFLICTS {
                    return Err(Error::Sync(format!(
                        "the server keeps moving the upload of photo {sha} (offset {o}); another upload of it may be running"
                    )));
                }
                offset = if o < total { o } else { 0 };
            }
        }
    }
}

fn header(resp: &reqwest::blocking::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_u64(resp: &reqwest::blocking::Response, name: &str) -> Option<u64> {
    header(resp, name).and_then(|v| v.trim().parse().ok())
}

impl HttpClient {
    fn blob_url(&self, sha: &str, doc: &str) -> String {
        format!("{}/v1/blobs/{sha}?doc={doc}", self.base)
    }
}

/// [`BlobTransport`] over HTTP with an access token (a client of one server).
#[derive(Debug, Clone, Copy)]
pub struct HttpBlobs<'a> {
    /// The client.
    pub client: &'a HttpClient,
    /// The bearer token.
    pub access_token: &'a str,
}

impl BlobTransport for HttpBlobs<'_> {
    fn head(&self, sha: &str, doc: &str) -> Result<RemoteBlob> {
        validate_sha256("sha256", sha)?;
        crate::vocab::validate_id("doc", doc)?;
        let resp = self
            .client
            .client
            .head(self.client.blob_url(sha, doc))
            .bearer_auth(self.access_token)
            .send()
            .map_err(network)?;
        match resp.status().as_u16() {
            200 => Ok(RemoteBlob::Complete(
                header_u64(&resp, "content-length").unwrap_or(0),
            )),
            204 => Ok(RemoteBlob::Partial(
                header_u64(&resp, "upload-offset").unwrap_or(0),
            )),
            404 => Ok(RemoteBlob::Absent),
            _ => Err(HttpClient::check(resp)
                .err()
                .unwrap_or_else(|| Error::Sync("unexpected answer to a photo HEAD".to_string()))),
        }
    }

    fn put(
        &self,
        sha: &str,
        doc: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> Result<ChunkReply> {
        validate_sha256("sha256", sha)?;
        crate::vocab::validate_id("doc", doc)?;
        let resp = self
            .client
            .client
            .put(format!(
                "{}&offset={offset}&total={total}",
                self.client.blob_url(sha, doc)
            ))
            .bearer_auth(self.access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .map_err(network)?;
        let status = resp.status().as_u16();
        Ok(match status {
            201 => ChunkReply::Created,
            200 => ChunkReply::AlreadyComplete,
            204 => ChunkReply::Stored(header_u64(&resp, "upload-offset").unwrap_or(0)),
            409 => ChunkReply::WrongOffset(header_u64(&resp, "upload-offset").unwrap_or(0)),
            404 => ChunkReply::Refused(PhotoRefusalReason::NotOnServer, status),
            403 => ChunkReply::Refused(PhotoRefusalReason::Forbidden, status),
            413 => ChunkReply::Refused(PhotoRefusalReason::TooLarge, status),
            422 => ChunkReply::Refused(PhotoRefusalReason::HashMismatch, status),
            507 => {
                let code = resp
                    .json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
                let reason = if code.as_deref() == Some("too_many_uploads") {
                    PhotoRefusalReason::TooManyUploads
                } else {
                    PhotoRefusalReason::QuotaExceeded
                };
                ChunkReply::Refused(reason, status)
            }
            _ => {
                return Err(HttpClient::check(resp).err().unwrap_or_else(|| {
                    Error::Sync(format!("unexpected answer {status} to a photo chunk"))
                }));
            }
        })
    }

    fn get(&self, sha: &str, doc: &str, thumbnail: bool) -> Result<Option<Download>> {
        validate_sha256("sha256", sha)?;
        crate::vocab::validate_id("doc", doc)?;
        let mut url = self.client.blob_url(sha, doc);
        if thumbnail {
            url.push_str("&variant=thumb");
        }
        let resp = self
            .client
            .client
            .get(url)
            .bearer_auth(self.access_token)
            .send()
            .map_err(network)?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let resp = HttpClient::check(resp)?;
        let etag = header(&resp, "etag").map(|e| e.trim_matches('"').to_string());
        let content_length = header_u64(&resp, "content-length");
        let bytes = resp.bytes().map_err(network)?.to_vec();
        Ok(Some(Download {
            bytes,
            etag,
            content_length,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_whole_only_with_the_announced_hash_and_length() {
        let sha = "a".repeat(64);
        let bytes = b"\xff\xd8 a thumbnail \xff\xd9".to_vec();
        let ok = Download {
            etag: Some(format!("thumb-{}", sha256_hex(&bytes))),
            content_length: Some(bytes.len() as u64),
            bytes,
        };
        assert!(verify_thumbnail(&sha, &ok).is_ok());
        let mut cut = ok.clone();
        cut.bytes.pop();
        assert!(verify_thumbnail(&sha, &cut).is_err());
        let mut no_tag = ok.clone();
        no_tag.etag = None;
        assert!(verify_thumbnail(&sha, &no_tag).is_err());
        let mut other = ok;
        other.etag = Some(format!("thumb-{sha}"));
        assert!(matches!(
            verify_thumbnail(&sha, &other),
            Err(Error::CorruptRecord { .. })
        ));
    }
}
