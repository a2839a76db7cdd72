//! Evidence photos on the store (#5): the one call from a camera file to a [`PhotoRef`]
//! ([`Store::add_photo`]), the store's photo folder ([`Store::photos`], a
//! [`BlobStore`] at [`Store::photo_dir`]), and the state of the attachment sync: which photos
//! the server still lacks, in which order, and which were refused and why.
//!
//! The upload queue is not stored: it is derived from the records (every photo a hazard or an
//! inspection references that this device holds) minus the `photo_uploaded` table (schema 4),
//! so it survives restarts and kills, and it can never disagree with the documents. Order:
//! hazards' photos first, the most severe hazard first (then the oldest), then inspections'
//! photos (oldest first). The network side lives in [`crate::sync::blobs`]; this module does
//! no network I/O.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};

use super::Store;
use super::record::{self, RecordKind};
use crate::hazard::{Hazard, Severity};
use crate::inspection::Inspection;
use crate::photo::{self, BlobStore, PhotoLimits};
use crate::vocab::{PhotoRef, now_ms};
use crate::{Error, Result};

/// Where a queued photo comes from: what orders the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSource {
    /// A hazard's photo (its own or an event's), with the hazard's severity.
    Hazard(Severity),
    /// An inspection answer's photo.
    Inspection,
}

/// One photo the server does not hold yet, as far as this device knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPhoto {
    /// The photo's SHA-256 (its name).
    pub sha256: String,
    /// The record the upload is authorized through (it references the photo).
    pub doc_id: String,
    /// What kind of record that is.
    pub source: PhotoSource,
    /// The photo's size in bytes.
    pub size: u64,
}

/// The photos to upload, in order, and what cannot be uploaded from here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhotoQueue {
    /// To upload, in this order.
    pub queued: Vec<QueuedPhoto>,
    /// Referenced photos this device does not hold (taken on another device: downloaded on
    /// demand, never uploaded from here).
    pub not_held: u64,
}

/// Why the server refused a photo's upload. The photo stays queued and is retried at the next
/// photo sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhotoRefusalReason {
    /// 404: the server has no readable record referencing the photo yet (the record's sync is
    /// pending or was refused) — it will be, after the next document sync.
    NotOnServer,
    /// 403: the user's role may not write the record the photo belongs to.
    Forbidden,
    /// 413: the photo is larger than the server accepts.
    TooLarge,
    /// 422: the bytes the server received did not hash to the photo's name (damaged in
    /// transit); the server discarded them and the next attempt starts again.
    HashMismatch,
    /// 507: the user's storage quota on the server is used up (an administrator can raise it).
    QuotaExceeded,
    /// 507: too many unfinished uploads at once.
    TooManyUploads,
}

impl PhotoRefusalReason {
    /// Every reason.
    pub const ALL: [PhotoRefusalReason; 6] = [
        PhotoRefusalReason::NotOnServer,
        PhotoRefusalReason::Forbidden,
        PhotoRefusalReason::TooLarge,
        PhotoRefusalReason::HashMismatch,
        PhotoRefusalReason::QuotaExceeded,
        PhotoRefusalReason::TooManyUploads,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoRefusalReason::NotOnServer => "not_on_server",
            PhotoRefusalReason::Forbidden => "forbidden",
            PhotoRefusalReason::TooLarge => "too_large",
            PhotoRefusalReason::HashMismatch => "hash_mismatch",
            PhotoRefusalReason::QuotaExceeded => "quota_exceeded",
            PhotoRefusalReason::TooManyUploads => "too_many_uploads",
        }
    }

    /// Whether every later photo would be refused the same way (the run stops).
    pub fn stops_the_run(self) -> bool {
        matches!(
            self,
            PhotoRefusalReason::QuotaExceeded | PhotoRefusalReason::TooManyUploads
        )
    }

    /// What to show the worker, in zh-CN and en.
    pub fn label(self) -> crate::vocab::Localized {
        let (zh, en) = match self {
            PhotoRefusalReason::NotOnServer => (
                "照片所属记录尚未同步，稍后自动重试",
                "The record of this photo is not on the server yet; it will be retried",
            ),
            PhotoRefusalReason::Forbidden => (
                "无权上传此记录的照片",
                "You may not upload photos of this record",
            ),
            PhotoRefusalReason::TooLarge => (
                "照片超过服务器允许的大小",
                "The photo is larger than the server accepts",
            ),
            PhotoRefusalReason::HashMismatch => (
                "照片传输中损坏，将重新上传",
                "The photo was damaged in transit; it will be uploaded again",
            ),
            PhotoRefusalReason::QuotaExceeded => (
                "服务器存储配额已满，请联系管理员",
                "Your storage quota on the server is full; contact an administrator",
            ),
            PhotoRefusalReason::TooManyUploads => (
                "未完成的上传过多，稍后重试",
                "Too many unfinished uploads; it will be retried",
            ),
        };
        crate::vocab::Localized {
            zh: zh.to_string(),
            en: en.to_string(),
        }
    }
}

impl std::str::FromStr for PhotoRefusalReason {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PhotoRefusalReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::invalid("photo_refusal.reason", format!("unknown code {s}")))
    }
}

/// A photo the server refused at its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRefusal {
    /// The photo.
    pub sha256: String,
    /// The record the upload went through.
    pub doc_id: String,
    /// Why.
    pub reason: PhotoRefusalReason,
    /// The HTTP status.
    pub status: u16,
    /// Refusals in a row.
    pub attempts: u32,
    /// When (device clock, ms).
    pub at_ms: i64,
}

/// Every photo the device's hazards and inspections reference, each once, in upload order,
/// with the first record referencing it.
fn referenced(tx: &Transaction<'_>) -> Result<Vec<(String, String, PhotoSource)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut push = |sha: &str, doc: &str, source: PhotoSource, out: &mut Vec<_>| {
        if seen.insert(sha.to_string()) {
            out.push((sha.to_string(), doc.to_string(), source));
        }
    };
    let hazards: Vec<String> = tx
        .prepare(
            "SELECT id FROM hazard ORDER BY
               CASE severity WHEN 'major_candidate' THEN 0 WHEN 'serious' THEN 1 ELSE 2 END,
               discovered_ms, id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in hazards {
        let h: Hazard = record::get(tx, RecordKind::Hazard, &id)?;
        let source = PhotoSource::Hazard(h.severity);
        for p in h
            .photos
            .iter()
            .chain(h.events.iter().flat_map(|e| &e.photos))
        {
            push(&p.sha256, &id, source, &mut out);
        }
    }
    let inspections: Vec<String> = tx
        .prepare("SELECT id FROM inspection ORDER BY started_ms, id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in inspections {
        let i: Inspection = record::get(tx, RecordKind::Inspection, &id)?;
        for p in i.answers.values().flat_map(|a| &a.photos) {
            push(&p.sha256, &id, PhotoSource::Inspection, &mut out);
        }
    }
    Ok(out)
}

impl Store {
    /// Takes the photo-sync lock (apart from the sync lock: documents sync while photos
    /// upload), or fails with `AlreadySyncing` if a photo sync is running.
    pub(crate) fn photo_guard(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        match self.photo_lock.try_lock() {
            Ok(g) => Ok(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(Error::AlreadySyncing),
        }
    }

    /// The store's photo folder (at [`Store::photo_dir`]), opened (created if needed).
    pub fn photos(&self) -> Result<BlobStore> {
        BlobStore::open(self.photo_dir())
    }

    /// From the camera's file to a [`PhotoRef`] in one call: runs [`photo::process`] (upright,
    /// ≤ 1,600 px, JPEG under 400 KB, no Exif, a thumbnail) and stores the photo and its
    /// thumbnail in the store's photo folder (free space checked first: [`Error::StorageFull`]
    /// and nothing written when there is no room). `keep_location`: whether the worker allows
    /// the photo's GPS position to be kept in the reference. Attach the returned reference to
    /// an answer or a hazard; the bytes are uploaded by the photo sync.
    ///
    /// Errors as [`photo::process`]: `UnsupportedFormat` (HEIC …), `Invalid` (field `photo`).
    pub fn add_photo(&self, image: &[u8], keep_location: bool) -> Result<PhotoRef> {
        let processed = photo::process(image, &PhotoLimits::default(), keep_location)?;
        self.photos()?.put_processed(&processed)?;
        Ok(processed.photo_ref())
    }

    /// The stored photo's bytes (JPEG), checked against its hash. `NotFound` when this device
    /// does not hold it (fetch it with the photo sync), `CorruptRecord` when the file is
    /// damaged.
    pub fn photo_bytes(&self, sha256: &str) -> Result<Vec<u8>> {
        self.photos()?.get(sha256)
    }

    /// The photo's thumbnail (JPEG, long side ≤ 256 px): the stored one, or one rebuilt from
    /// the photo. `NotFound` when neither is held.
    pub fn photo_thumbnail(&self, sha256: &str) -> Result<Vec<u8>> {
        self.photos()?.thumbnail(sha256)
    }

    /// The photos to upload, in order (see the module documentation).
    pub fn photo_upload_queue(&self) -> Result<PhotoQueue> {
        let blobs = self.photos()?;
        let (refs, uploaded) = self.read(|tx| {
            let refs = referenced(tx)?;
            let uploaded: HashSet<String> = tx
                .prepare("SELECT sha256 FROM photo_uploaded")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((refs, uploaded))
        })?;
        let mut queue = PhotoQueue::default();
        for (sha256, doc_id, source) in refs {
            if uploaded.contains(&sha256) || photo::validate_sha256("sha256", &sha256).is_err() {
                continue;
            }
            match blobs.size(&sha256)? {
                Some(size) => queue.queued.push(QueuedPhoto {
                    sha256,
                    doc_id,
                    source,
                    size,
                }),
                None => queue.not_held += 1,
            }
        }
        Ok(queue)
    }

    /// A record on this device that references the photo (the one a download is authorized
    /// through). `NotFound` (kind `photo`) when no hazard or inspection references it.
    pub fn photo_record(&self, sha256: &str) -> Result<String> {
        photo::validate_sha256("sha256", sha256)?;
        self.read(referenced)?
            .into_iter()
            .find(|(sha, _, _)| sha == sha256)
            .map(|(_, doc, _)| doc)
            .ok_or_else(|| Error::not_found("photo", sha256))
    }

    /// Records that the server holds the whole photo (after its 201, 200, or a HEAD saying it
    /// is complete); forgets its refusal.
    pub fn mark_photo_uploaded(&self, sha256: &str) -> Result<()> {
        photo::validate_sha256("sha256", sha256)?;
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO photo_uploaded(sha256, uploaded_ms) VALUES (?1, ?2)",
                params![sha256, now_ms()],
            )?;
            tx.execute("DELETE FROM photo_refusal WHERE sha256 = ?1", [sha256])?;
            Ok(())
        })
    }

    /// Whether the server is known to hold the photo.
    pub fn is_photo_uploaded(&self, sha256: &str) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT 1 FROM photo_uploaded WHERE sha256 = ?1",
                    [sha256],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    /// Records a refusal of the photo's upload (the photo stays queued).
    pub fn record_photo_refusal(
        &self,
        sha256: &str,
        doc_id: &str,
        reason: PhotoRefusalReason,
        status: u16,
    ) -> Result<PhotoRefusal> {
        photo::validate_sha256("sha256", sha256)?;
        let at_ms = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO photo_refusal(sha256, doc_id, reason, status, attempts, at_ms)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)
                 ON CONFLICT(sha256) DO UPDATE SET doc_id = excluded.doc_id,
                   reason = excluded.reason, status = excluded.status,
                   attempts = attempts + 1, at_ms = excluded.at_ms",
                params![sha256, doc_id, reason.as_str(), status, at_ms],
            )?;
            let attempts: u32 = tx.query_row(
                "SELECT attempts FROM photo_refusal WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )?;
            Ok(PhotoRefusal {
                sha256: sha256.to_string(),
                doc_id: doc_id.to_string(),
                reason,
                status,
                attempts,
                at_ms,
            })
        })
    }

    /// The photos whose last upload attempt was refused (still queued), oldest first.
    pub fn photo_refusals(&self) -> Result<Vec<PhotoRefusal>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT sha256, doc_id, reason, status, attempts, at_ms FROM photo_refusal
                 ORDER BY at_ms, sha256",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u16>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (sha256, doc_id, reason, status, attempts, at_ms) = row?;
                out.push(PhotoRefusal {
                    reason: reason.parse()?,
                    sha256,
                    doc_id,
                    status,
                    attempts,
                    at_ms,
                });
            }
            Ok(out)
        })
    }
}
