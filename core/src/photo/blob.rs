//! Photo files on the device's disk, named by the SHA-256 of their bytes.
//!
//! Layout under the store's folder:
//!
//! ```text
//! ab/abcdef…            the processed photo whose SHA-256 is abcdef… (256 shard folders)
//! thumbs/ab/abcdef…     its thumbnail: JPEG bytes, then the 32-byte SHA-256 of those bytes
//! tmp/                  files being written (renamed into place when complete)
//! ```
//!
//! Owns durability and integrity of those files: a write goes to a temporary file that is
//! flushed to disk, then renamed into place, then the folder is flushed, so after a crash a
//! photo is either whole or absent; every read re-checks the hash, so a damaged file is an
//! error and never shown as evidence. Every entry point checks the hash string first, so a
//! caller's string can never name another path. It must not decide what to keep (that
//! follows the documents) and does no network I/O.
//!
//! A thumbnail is keyed by its photo's hash, so a [`PhotoRef`](crate::vocab::PhotoRef) is
//! enough to find it; JPEG decoders ignore bytes after the end-of-image marker, so the file
//! is still a plain JPEG to a platform viewer. A missing or damaged thumbnail is rebuilt from
//! its photo.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::{Processed, sha256_hex, thumbnail_of_stored, validate_sha256};
use crate::{Error, Result};

/// Temporary files older than this are left-overs of a crash and are deleted on open.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// Distinguishes temporary files written by one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Content-addressed photo files in one folder. See the module documentation.
///
/// Cheap to clone; safe to use from several threads (and processes) at once: writers of the
/// same photo write the same bytes, and each rename is atomic.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    reserve_bytes: u64,
    thumb_side: u32,
}

impl BlobStore {
    /// Free space kept for the rest of the app (the SQLite store above all): a write that
    /// would leave less than this free fails with [`Error::StorageFull`].
    pub const DEFAULT_RESERVE_BYTES: u64 = 20 * 1024 * 1024;

    /// Opens (creating it if needed) the photo folder `dir`, and deletes temporary files left
    /// by a crash.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        for sub in ["tmp", "thumbs"] {
            fs::create_dir_all(root.join(sub))
                .map_err(|e| io_error("creating the photo folder", e))?;
        }
        let store = BlobStore {
            root,
            reserve_bytes: Self::DEFAULT_RESERVE_BYTES,
            thumb_side: super::PhotoLimits::default().thumb_side,
        };
        store.remove_stale_tmp();
        Ok(store)
    }

    /// Sets the free space to keep (tests use it to simulate a full disk).
    #[must_use]
    pub fn with_reserve(mut self, bytes: u64) -> Self {
        self.reserve_bytes = bytes;
        self
    }

    /// Sets the long side of thumbnails rebuilt by [`BlobStore::thumbnail`] (default 256).
    #[must_use]
    pub fn with_thumb_side(mut self, side: u32) -> Self {
        self.thumb_side = side.max(1);
        self
    }

    /// Fails with [`Error::StorageFull`] unless `needed_bytes` plus the reserve are free on
    /// the disk holding the folder.
    pub fn check_free_space(&self, needed_bytes: u64) -> Result<()> {
        let available =
            fs4::available_space(&self.root).map_err(|e| io_error("reading the free space", e))?;
        if available < needed_bytes.saturating_add(self.reserve_bytes) {
            return Err(Error::StorageFull);
        }
        Ok(())
    }

    /// Stores `bytes` durably and returns their SHA-256 (lower-case hex). Idempotent: storing
    /// the same bytes again writes nothing (and repairs the file if it was damaged).
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.image_path(&sha);
        match fs::read(&path) {
            Ok(existing) if existing == bytes => return Ok(sha),
            Ok(_) => {} // damaged: write it again
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("reading a stored photo", e)),
        }
        self.check_free_space(bytes.len() as u64)?;
        self.write_atomic(&path, &[bytes])?;
        Ok(sha)
    }

    /// Stores a processed photo and its thumbnail; returns the photo's SHA-256. Checks first
    /// that both hashes match their bytes and that there is room for both.
    pub fn put_processed(&self, photo: &Processed) -> Result<String> {
        if sha256_hex(&photo.image) != photo.sha256 {
            return Err(Error::invalid(
                "photo.sha256",
                "does not match the photo's bytes",
            ));
        }
        let thumb_digest = Sha256::digest(&photo.thumbnail);
        if sha256_hex(&photo.thumbnail) != photo.thumb_sha256 {
            return Err(Error::invalid(
                "photo.thumb_sha256",
                "does not match the thumbnail's bytes",
            ));
        }
        let total = photo.image.len() + photo.thumbnail.len() + thumb_digest.len();
        self.check_free_space(total as u64)?;
        let sha = self.put(&photo.image)?;
        self.write_atomic(&self.thumb_path(&sha), &[&photo.thumbnail, &thumb_digest])?;
        Ok(sha)
    }

    /// The stored photo `sha256`, checked against its hash.
    ///
    /// Errors: [`Error::Invalid`] for a malformed hash, [`Error::NotFound`] (kind `photo`)
    /// when it is not stored, [`Error::CorruptRecord`] (id = the hash) when the file no
    /// longer matches its hash (damaged storage: fetch the photo again).
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        validate_sha256("photo.sha256", sha256)?;
        let bytes = match fs::read(self.image_path(sha256)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::not_found("photo", sha256));
            }
            Err(e) => return Err(io_error("reading a stored photo", e)),
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(Error::corrupt(
                sha256,
                "the stored photo does not match its SHA-256",
            ));
        }
        Ok(bytes)
    }

    /// The thumbnail of the stored photo `sha256` (JPEG). A missing or damaged thumbnail is
    /// rebuilt from the photo (and stored again when there is room). Errors as [`get`]
    /// when the photo itself is missing or damaged.
    ///
    /// [`get`]: BlobStore::get
    pub fn thumbnail(&self, sha256: &str) -> Result<Vec<u8>> {
        validate_sha256("photo.sha256", sha256)?;
        let path = self.thumb_path(sha256);
        if let Ok(mut file) = fs::read(&path)
            && file.len() > 32
        {
            let split = file.len() - 32;
            if Sha256::digest(&file[..split])[..] == file[split..] {
                file.truncate(split);
                return Ok(file);
            }
        }
        let photo = self.get(sha256)?;
        let thumb = thumbnail_of_stored(&photo, self.thumb_side)?;
        let digest = Sha256::digest(&thumb);
        // The rebuilt thumbnail is served even if it cannot be kept (disk full): it is a cache.
        if self
            .check_free_space((thumb.len() + digest.len()) as u64)
            .is_ok()
        {
            let _ = self.write_atomic(&path, &[&thumb, &digest]);
        }
        Ok(thumb)
    }

    /// Stores `thumbnail` (JPEG bytes) as the thumbnail of the photo `sha256`, which need not
    /// be stored: a device that fetched only the thumbnail of a photo shows it from here. The
    /// caller has checked the bytes came whole (a downloaded thumbnail is verified against the
    /// server's ETag); the file gets its own trailing hash like every thumbnail.
    pub fn put_thumbnail(&self, sha256: &str, thumbnail: &[u8]) -> Result<()> {
        validate_sha256("photo.sha256", sha256)?;
        if thumbnail.is_empty() {
            return Err(Error::invalid("thumbnail", "is empty"));
        }
        let digest = Sha256::digest(thumbnail);
        self.check_free_space((thumbnail.len() + digest.len()) as u64)?;
        self.write_atomic(&self.thumb_path(sha256), &[thumbnail, &digest])
    }

    /// Whether a whole thumbnail of the photo `sha256` is stored (its trailing hash matches),
    /// without rebuilding one.
    pub fn has_thumbnail(&self, sha256: &str) -> Result<bool> {
        validate_sha256("photo.sha256", sha256)?;
        Ok(match fs::read(self.thumb_path(sha256)) {
            Ok(file) if file.len() > 32 => {
                let split = file.len() - 32;
                Sha256::digest(&file[..split])[..] == file[split..]
            }
            _ => false,
        })
    }

    /// Whether the photo `sha256` is stored (its file exists; the content is checked by
    /// [`BlobStore::get`]).
    pub fn has(&self, sha256: &str) -> Result<bool> {
        validate_sha256("photo.sha256", sha256)?;
        self.image_path(sha256)
            .try_exists()
            .map_err(|e| io_error("looking for a stored photo", e))
    }

    /// The size in bytes of the stored photo `sha256`, if it is stored (the content is
    /// checked by [`BlobStore::get`]).
    pub fn size(&self, sha256: &str) -> Result<Option<u64>> {
        validate_sha256("photo.sha256", sha256)?;
        match fs::metadata(self.image_path(sha256)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("looking for a stored photo", e)),
        }
    }

    /// Deletes the photo `sha256` and its thumbnail; returns whether the photo was stored.
    pub fn remove(&self, sha256: &str) -> Result<bool> {
        validate_sha256("photo.sha256", sha256)?;
        let thumb = self.thumb_path(sha256);
        match fs::remove_file(&thumb) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("deleting a thumbnail", e)),
        }
        let path = self.image_path(sha256);
        let existed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_error("deleting a stored photo", e)),
        };
        if existed && let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(existed)
    }

    /// `<root>/ab/abcdef…`; `sha` must be validated.
    fn image_path(&self, sha: &str) -> PathBuf {
        self.root.join(&sha[..2]).join(sha)
    }

    /// `<root>/thumbs/ab/abcdef…`; `sha` must be validated.
    fn thumb_path(&self, sha: &str) -> PathBuf {
        self.root.join("thumbs").join(&sha[..2]).join(sha)
    }

    /// Writes `parts` to `path` atomically and durably: temporary file, fsync, rename, fsync
    /// of the folder (and of its parent when the shard folder is new).
    fn write_atomic(&self, path: &Path, parts: &[&[u8]]) -> Result<()> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Error::invalid("photo.sha256", "no file name"));
        };
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| io_error("creating a photo folder", e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let tmp_dir = self.root.join("tmp");
        let (tmp, mut file) = loop {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = name.to_os_string();
            tmp_name.push(format!(".{}.{n}", std::process::id()));
            let tmp = tmp_dir.join(tmp_name);
            match File::options().write(true).create_new(true).open(&tmp) {
                Ok(file) => break (tmp, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("creating a photo file", e)),
            }
        };
        let written = parts
            .iter()
            .try_for_each(|p| file.write_all(p))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("writing a photo file", e));
        drop(file);
        let renamed = written.and_then(|()| {
            fs::rename(&tmp, path).map_err(|e| io_error("moving a photo file into place", e))
        });
        if renamed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        renamed?;
        sync_dir(dir)
    }

    /// Deletes temporary files old enough to be left-overs of a crash (younger ones may be
    /// another process's writes in progress). Best effort.
    fn remove_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TMP);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// A failed file operation: a full disk is [`Error::StorageFull`] (nothing was kept), the
/// rest [`Error::Io`] naming the action, not the path.
fn io_error(action: &'static str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
        Error::StorageFull
    } else {
        Error::Io { action, source: e }
    }
}

/// Flushes a folder's entries to disk so a rename in it survives power loss. Only Unix
/// (Android and iOS included) can open a folder for this; elsewhere it is a no-op.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("flushing a photo folder", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
