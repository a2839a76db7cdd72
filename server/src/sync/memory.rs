//! An in-memory [`SyncStorage`]: the reference implementation the sans-I/O sync tests run
//! against (a simulated network of devices with no sockets). One lock serialises commits, so
//! log positions are handed out in commit order.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use automerge::{AutoCommit, Change, ChangeHash};
use firegrid_core::store::RecordKind;
use firegrid_core::sync::protocol::DocChanges;
use firegrid_core::{Error, Result};

use super::{DocScope, DocWrite, PullPage, StoredDoc, SyncStorage, scope_of};

#[derive(Debug, Clone)]
struct LogRow {
    seq: u64,
    doc: String,
    hash: ChangeHash,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct MemDoc {
    kind: RecordKind,
    bytes: Vec<u8>,
    scope: DocScope,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    epoch: String,
    log: Vec<LogRow>,
    docs: HashMap<String, MemDoc>,
    hashes: HashSet<ChangeHash>,
}

/// Server storage in memory.
#[derive(Debug)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl MemoryStorage {
    /// An empty server with a fresh epoch.
    pub fn new() -> MemoryStorage {
        MemoryStorage {
            inner: Mutex::new(Inner {
                epoch: uuid::Uuid::new_v4().simple().to_string(),
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An independent copy with the same epoch and history (tests start many servers from one
    /// seeded state).
    pub fn fork(&self) -> MemoryStorage {
        MemoryStorage {
            inner: Mutex::new(self.lock().clone()),
        }
    }

    /// Replaces the history (as a restore from an older backup would): a new epoch, and only
    /// the first `keep` log entries.
    pub fn restore_to(&self, keep: usize) -> Result<()> {
        let mut inner = self.lock();
        inner.log.truncate(keep);
        inner.epoch = uuid::Uuid::new_v4().simple().to_string();
        let rows: Vec<(String, Vec<u8>)> = inner
            .log
            .iter()
            .map(|r| (r.doc.clone(), r.bytes.clone()))
            .collect();
        let kinds: HashMap<String, (RecordKind, DocScope)> = inner
            .docs
            .iter()
            .map(|(k, d)| (k.clone(), (d.kind, d.scope.clone())))
            .collect();
        inner.docs.clear();
        inner.hashes.clear();
        for (doc, bytes) in rows {
            let change = Change::try_from(bytes.as_slice()).map_err(|e| Error::corrupt(&doc, e))?;
            inner.hashes.insert(change.hash());
            let Some((kind, scope)) = kinds.get(&doc).cloned() else {
                continue;
            };
            let entry = inner.docs.entry(doc.clone()).or_insert(MemDoc {
                kind,
                bytes: AutoCommit::new().save(),
                scope,
            });
            let mut am = AutoCommit::load(&entry.bytes).map_err(|e| Error::corrupt(&doc, e))?;
            am.apply_changes([change])
                .map_err(|e| Error::corrupt(&doc, e))?;
            entry.bytes = am.save();
        }
        Ok(())
    }

    /// Stores a whole document as it is (seeding from fixtures), bypassing authorization.
    pub fn seed_document(&self, id: &str, kind: RecordKind, bytes: &[u8]) -> Result<()> {
        let mut doc = AutoCommit::load(bytes).map_err(|e| Error::corrupt(id, e))?;
        let scope = scope_of(self, kind, &doc)?.unwrap_or(DocScope::Street);
        let changes = doc
            .get_changes(&[])
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        self.commit(
            "seed",
            &[DocWrite {
                doc: id.to_string(),
                kind,
                scope,
                changes,
            }],
        )
    }

    /// Every stored document's id and saved bytes (tests compare replicas with it).
    pub fn documents(&self) -> Vec<(String, Vec<u8>)> {
        self.lock()
            .docs
            .iter()
            .map(|(k, d)| (k.clone(), d.bytes.clone()))
            .collect()
    }

    /// Number of changes in the log.
    pub fn log_len(&self) -> usize {
        self.lock().log.len()
    }
}

impl SyncStorage for MemoryStorage {
    fn epoch(&self) -> Result<String> {
        Ok(self.lock().epoch.clone())
    }

    fn max_seq(&self) -> Result<u64> {
        Ok(self.lock().log.last().map_or(0, |r| r.seq))
    }

    fn load_doc(&self, id: &str) -> Result<Option<StoredDoc>> {
        Ok(self.lock().docs.get(id).map(|d| StoredDoc {
            kind: d.kind,
            bytes: d.bytes.clone(),
        }))
    }

    fn premises_scope(&self, id: &str) -> Result<Option<DocScope>> {
        Ok(self
            .lock()
            .docs
            .get(id)
            .filter(|d| d.kind == RecordKind::Premises)
            .map(|d| d.scope.clone()))
    }

    fn station_communities(&self, station: &str) -> Result<Vec<String>> {
        let bytes = match self.lock().docs.get(station) {
            Some(d) if d.kind == RecordKind::MicroStation => d.bytes.clone(),
            _ => return Ok(Vec::new()),
        };
        let doc = AutoCommit::load(&bytes).map_err(|e| Error::corrupt(station, e))?;
        Ok(autosurgeon::hydrate_prop(&doc, automerge::ROOT, "communities").unwrap_or_default())
    }

    fn commit(&self, _device_id: &str, writes: &[DocWrite]) -> Result<()> {
        let mut inner = self.lock();
        for w in writes {
            let mut fresh = Vec::new();
            for (hash, bytes) in &w.changes {
                if inner.hashes.insert(*hash) {
                    let seq = inner.log.last().map_or(0, |r| r.seq) + 1;
                    inner.log.push(LogRow {
                        seq,
                        doc: w.doc.clone(),
                        hash: *hash,
                        bytes: bytes.clone(),
                    });
                    fresh.push(
                        Change::try_from(bytes.as_slice())
                            .map_err(|e| Error::corrupt(&w.doc, e))?,
                    );
                }
            }
            let entry = inner.docs.entry(w.doc.clone()).or_insert(MemDoc {
                kind: w.kind,
                bytes: AutoCommit::new().save(),
                scope: w.scope.clone(),
            });
            let mut am = AutoCommit::load(&entry.bytes).map_err(|e| Error::corrupt(&w.doc, e))?;
            am.apply_changes(fresh)
                .map_err(|e| Error::corrupt(&w.doc, e))?;
            entry.bytes = am.save();
            entry.scope = w.scope.clone();
        }
        Ok(())
    }

    fn pull(
        &self,
        cursor: u64,
        max_bytes: usize,
        visible: &dyn Fn(&DocScope) -> bool,
        exclude: &HashSet<ChangeHash>,
    ) -> Result<PullPage> {
        let inner = self.lock();
        let start = inner.log.partition_point(|r| r.seq <= cursor);
        let mut page = PullPage {
            cursor,
            ..Default::default()
        };
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut size = 0usize;
        for row in &inner.log[start..] {
            let Some(doc) = inner.docs.get(&row.doc) else {
                page.cursor = row.seq;
                continue;
            };
            if !visible(&doc.scope) || exclude.contains(&row.hash) {
                page.cursor = row.seq;
                continue;
            }
            if size > 0 && size + row.bytes.len() > max_bytes {
                page.more = true;
                break;
            }
            size += row.bytes.len() + 8;
            let i = *index.entry(row.doc.as_str()).or_insert_with(|| {
                page.docs.push(DocChanges {
                    doc: row.doc.clone(),
                    kind: doc.kind.as_str().to_string(),
                    changes: Vec::new(),
                });
                page.docs.len() - 1
            });
            page.docs[i].changes.push(row.bytes.clone());
            page.cursor = row.seq;
        }
        Ok(page)
    }
}
