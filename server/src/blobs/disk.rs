//! Where blob bytes live: the [`BlobBytes`] trait and its one implementation today, files on a
//! disk ([`DiskBlobs`]). It owns the byte layout, chunk appends, the hash check of a finished
//! upload and the atomic move into place. It must not authorize, count quota or touch the
//! database (the [`super::BlobStore`] does).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What one chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Appended; the partial upload now holds this many bytes.
    Stored(u64),
    /// The offset was not the partial's length (this is it): nothing written.
    WrongOffset(u64),
    /// Another request is writing this upload right now (its length before that request):
    /// nothing written.
    Busy(u64),
    /// The last chunk: the bytes hash to the name and are in place as a completed blob.
    Complete(u64),
    /// The last chunk, but the bytes do not hash to the name: the partial upload is deleted.
    HashMismatch,
}

/// The bytes of blobs, completed and partial. A completed blob is only ever made visible
/// whole, after its SHA-256 was checked; a partial upload belongs to one uploader (`owner`,
/// an opaque key) and is never served.
///
/// Implemented by [`DiskBlobs`]; an S3-compatible bucket slots in behind the same calls (a
/// multipart upload per partial, the hash computed while streaming the parts, completion =
/// `CompleteMultipartUpload` to a temporary key then a copy to `<sha256>`, reads = `GetObject`).
pub trait BlobBytes: Send + Sync + std::fmt::Debug {
    /// The size of the completed blob `sha`, if there is one.
    fn size(&self, sha: &str) -> io::Result<Option<u64>>;
    /// The bytes of the completed blob `sha` (never of a partial upload).
    fn read(&self, sha: &str) -> io::Result<Option<Vec<u8>>>;
    /// How many bytes `owner`'s partial upload of `sha` holds, if it has one.
    fn partial_len(&self, sha: &str, owner: &str) -> io::Result<Option<u64>>;
    /// Appends `chunk` at `offset` to `owner`'s partial upload of `sha` (created at offset 0);
    /// when that makes `total` bytes, checks the hash and completes it. The caller has checked
    /// `offset + chunk.len() <= total` and that `chunk` is not empty.
    fn write_chunk(
        &self,
        sha: &str,
        owner: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> io::Result<ChunkOutcome>;
    /// Deletes `owner`'s partial upload of `sha` (nothing if there is none).
    fn discard(&self, sha: &str, owner: &str) -> io::Result<()>;
    /// When `owner`'s partial upload of `sha` last received a chunk (ms since the epoch), if
    /// it has one: what decides that an upload is abandoned.
    fn partial_touched_ms(&self, sha: &str, owner: &str) -> io::Result<Option<i64>>;
    /// The cached thumbnail of the completed blob `sha`, if one is cached whole.
    fn read_thumbnail(&self, sha: &str) -> io::Result<Option<Vec<u8>>>;
    /// Caches `thumbnail` as the thumbnail of `sha` (atomically: whole or absent).
    fn write_thumbnail(&self, sha: &str, thumbnail: &[u8]) -> io::Result<()>;
}

/// Blobs as files: `<root>/<first two hex digits>/<sha256>` when complete,
/// `<root>/partial/<sha256>.<owner>` while being uploaded. A completion is: fsync the partial,
/// rename it to its final name, fsync both directories. Concurrent requests on one partial are
/// kept apart by an exclusive advisory lock on the file (`flock`; also between server
/// instances sharing the directory).
#[derive(Debug)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Blobs under `root` (created when missing).
    pub fn open(root: &Path) -> io::Result<DiskBlobs> {
        std::fs::create_dir_all(root.join("partial"))?;
        Ok(DiskBlobs {
            root: root.to_path_buf(),
        })
    }

    fn final_path(&self, sha: &str) -> PathBuf {
        self.root.join(&sha[..2]).join(sha)
    }

    fn partial_path(&self, sha: &str, owner: &str) -> PathBuf {
        self.root.join("partial").join(format!("{sha}.{owner}"))
    }

    /// `<root>/thumbs/<ab>/<sha256>`: the thumbnail's JPEG bytes, then their 32-byte SHA-256
    /// (a damaged cache entry is rebuilt, never served).
    fn thumb_path(&self, sha: &str) -> PathBuf {
        self.root.join("thumbs").join(&sha[..2]).join(sha)
    }
}

/// Lower-case hex SHA-256 of everything `r` yields.
pub(crate) fn sha256_hex(mut r: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// fsync of a directory, so a rename or unlink in it survives power loss.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl BlobBytes for DiskBlobs {
    fn size(&self, sha: &str) -> io::Result<Option<u64>> {
        Ok(not_found_is_none(std::fs::metadata(self.final_path(sha)))?.map(|m| m.len()))
    }

    fn read(&self, sha: &str) -> io::Result<Option<Vec<u8>>> {
        not_found_is_none(std::fs::read(self.final_path(sha)))
    }

    fn partial_len(&self, sha: &str, owner: &str) -> io::Result<Option<u64>> {
        Ok(not_found_is_none(std::fs::metadata(self.partial_path(sha, owner)))?.map(|m| m.len()))
    }

    fn write_chunk(
        &self,
        sha: &str,
        owner: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> io::Result<ChunkOutcome> {
        let path = self.partial_path(sha, owner);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Ok(ChunkOutcome::Busy(file.metadata()?.len()));
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        // Locked. A request that opened the path before another one completed (renamed) or
        // discarded (unlinked) it holds the old file: its length is then `total` (it can take
        // no further chunk, chunks are never empty) or it is gone from the directory.
        let len = file.metadata()?.len();
        if offset != len {
            return Ok(ChunkOutcome::WrongOffset(len));
        }
        file.seek(SeekFrom::End(0))?;
        file.write_all(chunk)?;
        // Durable before the offset is acknowledged: a resumed upload continues from bytes
        // that survive a crash.
        file.sync_data()?;
        let len = len + chunk.len() as u64;
        if len < total {
            return Ok(ChunkOutcome::Stored(len));
        }
        file.seek(SeekFrom::Start(0))?;
        if sha256_hex(&mut file)? != sha {
            std::fs::remove_file(&path)?;
            return Ok(ChunkOutcome::HashMismatch);
        }
        let target = self.final_path(sha);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        std::fs::rename(&path, &target)?;
        sync_dir(&dir)?;
        sync_dir(&self.root.join("partial"))?;
        Ok(ChunkOutcome::Complete(len))
    }

    fn discard(&self, sha: &str, owner: &str) -> io::Result<()> {
        match std::fs::remove_file(self.partial_path(sha, owner)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn partial_touched_ms(&self, sha: &str, owner: &str) -> io::Result<Option<i64>> {
        let Some(meta) = not_found_is_none(std::fs::metadata(self.partial_path(sha, owner)))?
        else {
            return Ok(None);
        };
        let ms = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Ok(Some(ms))
    }

    fn read_thumbnail(&self, sha: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(mut file) = not_found_is_none(std::fs::read(self.thumb_path(sha)))? else {
            return Ok(None);
        };
        if file.len() <= 32 {
            return Ok(None);
        }
        let split = file.len() - 32;
        if Sha256::digest(&file[..split])[..] != file[split..] {
            return Ok(None);
        }
        file.truncate(split);
        Ok(Some(file))
    }

    fn write_thumbnail(&self, sha: &str, thumbnail: &[u8]) -> io::Result<()> {
        let target = self.thumb_path(sha);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        // A unique temporary name beside the target: concurrent writers of one thumbnail
        // write the same bytes, and each rename is atomic.
        let tmp = dir.join(format!(
            "{sha}.tmp.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(thumbnail)?;
            f.write_all(&Sha256::digest(thumbnail))?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)?;
            sync_dir(&dir)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn sha(bytes: &[u8]) -> String {
        sha256_hex(bytes).unwrap()
    }

    #[test]
    fn chunks_complete_only_with_the_right_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::open(dir.path()).unwrap();
        let data = b"0123456789".to_vec();
        let h = sha(&data);
        assert_eq!(
            blobs.write_chunk(&h, "o", 0, 10, &data[..4]).unwrap(),
            ChunkOutcome::Stored(4)
        );
        assert_eq!(blobs.size(&h).unwrap(), None);
        assert_eq!(blobs.read(&h).unwrap(), None);
        assert_eq!(blobs.partial_len(&h, "o").unwrap(), Some(4));
        assert_eq!(blobs.partial_len(&h, "p").unwrap(), None);
        assert_eq!(
            blobs.write_chunk(&h, "o", 3, 10, &data[3..]).unwrap(),
            ChunkOutcome::WrongOffset(4)
        );
        assert_eq!(
            blobs.write_chunk(&h, "o", 4, 10, &data[4..]).unwrap(),
            ChunkOutcome::Complete(10)
        );
        assert_eq!(blobs.read(&h).unwrap().unwrap(), data);
        assert_eq!(blobs.partial_len(&h, "o").unwrap(), None);
        assert!(dir.path().join(&h[..2]).join(&h).exists());

        let wrong = sha(b"something else");
        assert_eq!(
            blobs.write_chunk(&wrong, "o", 0, 10, &data).unwrap(),
            ChunkOutcome::HashMismatch
        );
        assert_eq!(blobs.partial_len(&wrong, "o").unwrap(), None);
        assert_eq!(blobs.size(&wrong).unwrap(), None);
    }

    #[test]
    fn a_locked_partial_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::open(dir.path()).unwrap();
        let h = sha(b"abcdef");
        blobs.write_chunk(&h, "o", 0, 6, b"abc").unwrap();
        let held = File::open(blobs.partial_path(&h, "o")).unwrap();
        held.lock().unwrap();
        assert_eq!(
            blobs.write_chunk(&h, "o", 3, 6, b"def").unwrap(),
            ChunkOutcome::Busy(3)
        );
        drop(held);
        assert_eq!(
            blobs.write_chunk(&h, "o", 3, 6, b"def").unwrap(),
            ChunkOutcome::Complete(6)
        );
    }
}
