//! Evidence photos across the FFI (#5): from the camera file to a `PhotoRef`, the stored bytes
//! and thumbnails, the attachment sync with its progress callback, and downloads on demand.
//! Each method delegates to one `firegrid_core` call (`Store::add_photo`, `sync_photos_http`,
//! `fetch_photo_http`, …); the rules live in `core::store::photos` and `core::sync::blobs`.
//! Every call that touches the network blocks: run it off the main thread.

use std::sync::Arc;

use firegrid_core::store::{PhotoRefusal as DomainRefusal, PhotoRefusalReason as DomainReason};
use firegrid_core::sync::blobs as domain;
use firegrid_core::sync::http::RetryPolicy;

use crate::error::Result;
use crate::store::FiregridStore;
use crate::sync::SyncClient;
use crate::vocab::{Localized, PhotoRef, mirror_enum};

/// Progress of a photo sync, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PhotoSyncProgress {
    /// Photos done (uploaded, found on the server, or refused).
    pub photos_done: u64,
    /// Photos queued when the run started.
    pub photos_total: u64,
    /// Bytes done (a photo being uploaded counts what the server holds).
    pub bytes_done: u64,
    /// Bytes of every queued photo.
    pub bytes_total: u64,
}

impl From<domain::PhotoProgress> for PhotoSyncProgress {
    fn from(p: domain::PhotoProgress) -> Self {
        PhotoSyncProgress {
            photos_done: p.photos_done,
            photos_total: p.photos_total,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total,
        }
    }
}

/// Receives the progress of a photo sync on the thread that runs it, after every chunk. Keep
/// it short (post to the UI thread).
#[uniffi::export(callback_interface)]
pub trait PhotoSyncListener: Send + Sync {
    /// Some progress was made.
    fn on_progress(&self, progress: PhotoSyncProgress);
}

mirror_enum! {
    /// Why the server refused a photo (it stays queued and is retried at the next photo sync).
    PhotoRefusalReason = DomainReason {
        /// The record of the photo is not on the server yet (sync documents first).
        NotOnServer,
        /// The user may not upload photos of that record.
        Forbidden,
        /// Larger than the server accepts.
        TooLarge,
        /// Damaged in transit; uploaded again next time.
        HashMismatch,
        /// The user's storage quota on the server is full (an administrator can raise it).
        QuotaExceeded,
        /// Too many unfinished uploads at once.
        TooManyUploads,
    }
}

/// A photo the server refused at its last attempt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoRefusal {
    /// The photo's SHA-256.
    pub sha256: String,
    /// The record the upload went through.
    pub record_id: String,
    /// Why.
    pub reason: PhotoRefusalReason,
    /// What to show, zh-CN and en.
    pub label: Localized,
    /// The HTTP status.
    pub status: u16,
    /// Refusals in a row.
    pub attempts: u32,
    /// When (device clock, ms).
    pub at_ms: i64,
}

impl From<DomainRefusal> for PhotoRefusal {
    fn from(r: DomainRefusal) -> Self {
        PhotoRefusal {
            label: r.reason.label().into(),
            sha256: r.sha256,
            record_id: r.doc_id,
            reason: r.reason.into(),
            status: r.status,
            attempts: r.attempts,
            at_ms: r.at_ms,
        }
    }
}

/// The outcome of a photo sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoSyncReport {
    /// Photos uploaded.
    pub uploaded: u64,
    /// Photos the server already held.
    pub already_on_server: u64,
    /// Bytes of the photos uploaded.
    pub bytes_sent: u64,
    /// Photos refused in this run (still queued).
    pub refused: Vec<PhotoRefusal>,
    /// Photos left for later because the run stopped at a quota refusal.
    pub not_attempted: u64,
    /// Queued photos whose file on this device is damaged (retake them).
    pub damaged_locally: u64,
    /// Referenced photos this device does not hold (taken elsewhere; fetched on demand).
    pub not_held: u64,
}

impl From<domain::PhotoSyncReport> for PhotoSyncReport {
    fn from(r: domain::PhotoSyncReport) -> Self {
        PhotoSyncReport {
            uploaded: r.uploaded,
            already_on_server: r.already_on_server,
            bytes_sent: r.bytes_sent,
            refused: r.refused.into_iter().map(Into::into).collect(),
            not_attempted: r.not_attempted,
            damaged_locally: r.damaged_locally,
            not_held: r.not_held,
        }
    }
}

/// Told by `fetch_photo` when the thumbnail is verified and stored, before the photo comes:
/// show it at once (`photo_thumbnail`). Called on the thread that runs the fetch.
#[uniffi::export(callback_interface)]
pub trait PhotoFetchListener: Send + Sync {
    /// The thumbnail of `sha256` is stored.
    fn on_thumbnail(&self, sha256: String);
}

/// What `fetch_photo` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PhotoFetch {
    /// A thumbnail was downloaded (show it with `photo_thumbnail`).
    pub thumbnail_fetched: bool,
    /// The photo was downloaded and verified (show it with `photo_bytes`).
    pub photo_fetched: bool,
    /// The device held the photo already.
    pub already_held: bool,
}

impl From<domain::PhotoFetch> for PhotoFetch {
    fn from(f: domain::PhotoFetch) -> Self {
        PhotoFetch {
            thumbnail_fetched: f.thumbnail_fetched,
            photo_fetched: f.photo_fetched,
            already_held: f.already_held,
        }
    }
}

#[uniffi::export]
impl FiregridStore {
    /// From the camera's file (JPEG or PNG) to a `PhotoRef`: upright, at most 1,600 px, a JPEG
    /// under 400 KB without Exif, plus a thumbnail, both stored on the device (free space
    /// checked: `StorageFull`). `keep_location`: whether the worker allows the photo's GPS
    /// position in the reference. Attach the result to an answer or a hazard. Errors:
    /// `Invalid` (field `photo`) for junk, bombs and unsupported formats (HEIC: convert it to
    /// JPEG with the platform's codec first).
    pub fn add_photo(&self, image: Vec<u8>, keep_location: bool) -> Result<PhotoRef> {
        Ok(self.store.add_photo(&image, keep_location)?.into())
    }

    /// The photo's thumbnail (JPEG, ≤ 256 px): `NotFound` (kind `photo`) when the device holds
    /// neither it nor the photo (`fetch_photo` first).
    pub fn photo_thumbnail(&self, sha256: String) -> Result<Vec<u8>> {
        Ok(self.store.photo_thumbnail(&sha256)?)
    }

    /// The photo's bytes (JPEG), checked against its hash: `NotFound` (kind `photo`) when the
    /// device does not hold it, `Corrupt` when the stored file is damaged.
    pub fn photo_bytes(&self, sha256: String) -> Result<Vec<u8>> {
        Ok(self.store.photo_bytes(&sha256)?)
    }

    /// Uploads the photos the server lacks: hazards' photos first (most severe first), then
    /// inspections', in resumable 1 MiB chunks; run it after `sync` (a photo is accepted once
    /// its record is on the server). Network errors are retried up to `attempts` times per
    /// photo with backoff (blocking for the waits); refused photos are reported and stay
    /// queued. Does not block document sync (its own lock: a second photo sync fails with
    /// `AlreadySyncing`).
    #[uniffi::method(default(attempts = 5, listener = None))]
    pub fn sync_photos(
        &self,
        client: Arc<SyncClient>,
        access_token: String,
        attempts: u32,
        listener: Option<Box<dyn PhotoSyncListener>>,
    ) -> Result<PhotoSyncReport> {
        let policy = RetryPolicy {
            attempts,
            ..RetryPolicy::default()
        };
        let mut progress = |p: domain::PhotoProgress| {
            if let Some(l) = listener.as_deref() {
                l.on_progress(p.into());
            }
        };
        Ok(self
            .store
            .sync_photos_http(&client.inner, &access_token, policy, &mut progress)?
            .into())
    }

    /// The photos whose last upload was refused (still queued), with the reason to show.
    pub fn photo_refusals(&self) -> Result<Vec<PhotoRefusal>> {
        Ok(self
            .store
            .photo_refusals()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Photos waiting for upload.
    pub fn photo_upload_count(&self) -> Result<u64> {
        Ok(self.store.photo_upload_queue()?.queued.len() as u64)
    }

    /// Downloads a photo a record on this device references (taken on another device):
    /// with `thumbnail_first`, its thumbnail first, then the photo, each verified and stored.
    /// `listener` hears when the thumbnail is in. Errors: `NotFound` (kind `photo`) when no
    /// record references it or the server does not hold it yet; `Corrupt` when a download
    /// does not match (nothing stored); `Network`.
    #[uniffi::method(default(listener = None))]
    pub fn fetch_photo(
        &self,
        client: Arc<SyncClient>,
        access_token: String,
        sha256: String,
        thumbnail_first: bool,
        listener: Option<Box<dyn PhotoFetchListener>>,
    ) -> Result<PhotoFetch> {
        let mut on_thumbnail = |_: &[u8]| {
            if let Some(l) = listener.as_deref() {
                l.on_thumbnail(sha256.clone());
            }
        };
        Ok(self
            .store
            .fetch_photo_http(
                &client.inner,
                &access_token,
                &sha256,
                thumbnail_first,
                &mut on_thumbnail,
            )?
            .into())
    }
}
