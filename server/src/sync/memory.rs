//! An in-memory [`SyncStorage`]: the reference implementation the sans-I/O sync tests run
//! against (a simulated network of devices with no sockets). One lock serialises commits, so
//! log positions are handed out in commit order.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use automerge::ChangeHash;
use firegrid_core::Result;
use firegrid_core::store::RecordKind;

use super::{
    CommitOutcome, DocScope, DocWrite, OwnChanges, PageBuilder, PullPage, Snapshot, StoredDoc,
    SyncStorage, seed_document,
};

/// One log entry: a change, or a scope-move marker (no hash, empty bytes).
#[derive(Debug, Clone)]
struct LogRow {
    seq: u64,
    doc: String,
    hash: Option<ChangeHash>,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct MemDoc {
    kind: RecordKind,
    scope: DocScope,
    parent: Option<String>,
    snapshot: Vec<u8>,
    snapshot_seq: u64,
    /// The record the snapshot makes, encoded.
    record: Option<Vec<u8>>,
    version: u64,
    /// Indices into the log of this document's changes, in log order.
    rows: Vec<usize>,
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
    /// the first `keep` log entries. Documents with no change left are gone; the others keep
    /// their kind and scope, and lose their snapshot (compaction rebuilds it).
    pub fn restore_to(&self, keep: usize) -> Result<()> {
        let mut inner = self.lock();
        inner.log.truncate(keep);
        inner.epoch = uuid::Uuid::new_v4().simple().to_string();
        let hashes = inner.log.iter().filter_map(|r| r.hash).collect();
        inner.hashes = hashes;
        let len = inner.log.len();
        let log = std::mem::take(&mut inner.log);
        inner.docs.retain(|_, d| {
            d.rows.retain(|&i| i < len);
            d.snapshot.clear();
            d.snapshot_seq = 0;
            d.record = None;
            d.version = d.rows.last().map_or(0, |&i| log[i].seq);
            !d.rows.is_empty()
        });
        inner.log = log;
        Ok(())
    }

    /// Stores a whole document as it is (seeding from fixtures), bypassing authorization.
    pub fn seed_document(&self, id: &str, kind: RecordKind, bytes: &[u8]) -> Result<()> {
        seed_document(self, id, kind, bytes)
    }

    /// Every stored document's id and saved bytes, by id like the SQLite store's (tests compare
    /// replicas with it, and pick documents from it by position).
    pub fn documents(&self) -> Vec<(String, Vec<u8>)> {
        let mut ids: Vec<String> = self.lock().docs.keys().cloned().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| {
                let stored = self.load_doc(&id).ok()??;
                let bytes = stored.to_automerge(&id).ok()?.save();
                Some((id, bytes))
            })
            .collect()
    }

    /// Number of changes in the log.
    pub fn log_len(&self) -> usize {
        self.lock().log.len()
    }
}

impl Inner {
    /// A document as stored: its snapshot and the changes logged after it.
    fn stored(&self, d: &MemDoc) -> StoredDoc {
        StoredDoc {
            kind: d.kind,
            snapshot: d.snapshot.clone(),
            snapshot_seq: d.snapshot_seq,
            record: d.record.clone(),
            tail: d
                .rows
                .iter()
                .map(|&i| &self.log[i])
                .filter(|r| r.seq > d.snapshot_seq && r.hash.is_some())
                .map(|r| r.bytes.clone())
                .collect(),
            version: d.version,
            scope: d.scope.clone(),
            parent: d.parent.clone(),
        }
    }

    /// Appends a log row at the next position; returns its index.
    fn append(&mut self, doc: &str, hash: Option<ChangeHash>, bytes: Vec<u8>) -> usize {
        let seq = self.log.last().map_or(0, |r| r.seq) + 1;
        self.log.push(LogRow {
            seq,
            doc: doc.to_string(),
            hash,
            bytes,
        });
        self.log.len() - 1
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
        let inner = self.lock();
        Ok(inner.docs.get(id).map(|d| inner.stored(d)))
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
        match self.load_doc(station)? {
            Some(stored) if stored.kind == RecordKind::MicroStation => {
                let doc = stored.to_automerge(station)?;
                Ok(
                    autosurgeon::hydrate_prop(&doc, automerge::ROOT, "communities")
                        .unwrap_or_default(),
                )
            }
            _ => Ok(Vec::new()),
        }
    }

    fn list_docs(&self, kind: RecordKind) -> Result<Vec<(String, DocScope)>> {
        let mut out: Vec<(String, DocScope)> = self
            .lock()
            .docs
            .iter()
            .filter(|(_, d)| d.kind == kind)
            .map(|(id, d)| (id.clone(), d.scope.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn commit(&self, _device_id: &str, writes: &[DocWrite]) -> Result<CommitOutcome> {
        let mut inner = self.lock();
        for w in writes {
            if inner.docs.get(&w.doc).map_or(0, |d| d.version) != w.base {
                return Ok(CommitOutcome::Stale(w.doc.clone()));
            }
        }
        for w in writes {
            let mut rows = Vec::new();
            for (hash, bytes) in &w.changes {
                if inner.hashes.insert(*hash) {
                    rows.push(inner.append(&w.doc, Some(*hash), bytes.clone()));
                }
            }
            let version = rows.last().map(|&i| inner.log[i].seq);
            let moved = match inner.docs.get_mut(&w.doc) {
                Some(d) => {
                    let moved = d.scope != w.scope;
                    d.scope = w.scope.clone();
                    d.parent = w.parent.clone();
                    d.version = version.unwrap_or(d.version);
                    d.rows.extend(rows);
                    moved
                }
                None if rows.is_empty() => false,
                None => {
                    // A new document's snapshot, when it holds exactly what was logged for it.
                    let snapshot = w
                        .snapshot
                        .clone()
                        .filter(|_| w.base == 0 && rows.len() == w.changes.len());
                    inner.docs.insert(
                        w.doc.clone(),
                        MemDoc {
                            kind: w.kind,
                            scope: w.scope.clone(),
                            parent: w.parent.clone(),
                            snapshot_seq: if snapshot.is_some() {
                                version.unwrap_or(0)
                            } else {
                                0
                            },
                            record: w.record.clone().filter(|_| snapshot.is_some()),
                            snapshot: snapshot.unwrap_or_default(),
                            version: version.unwrap_or(0),
                            rows,
                        },
                    );
                    false
                }
            };
            if moved {
                let mut ids: Vec<String> = inner
                    .docs
                    .iter()
                    .filter(|(_, d)| d.parent.as_deref() == Some(w.doc.as_str()))
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.sort();
                ids.insert(0, w.doc.clone());
                for id in ids {
                    let i = inner.append(&id, None, Vec::new());
                    let seq = inner.log[i].seq;
                    if let Some(d) = inner.docs.get_mut(&id) {
                        d.scope = w.scope.clone();
                        d.version = seq;
                        d.rows.push(i);
                    }
                }
            }
        }
        Ok(CommitOutcome::Committed)
    }

    fn dirty_docs(&self, limit: usize) -> Result<Vec<String>> {
        let inner = self.lock();
        let mut ids: Vec<String> = inner
            .docs
            .iter()
            .filter(|(_, d)| d.snapshot_seq < d.version)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<usize> {
        let mut inner = self.lock();
        let mut saved = 0;
        for s in snapshots {
            if let Some(d) = inner.docs.get_mut(&s.doc)
                && d.snapshot_seq == s.base
                && s.upto <= d.version
            {
                d.snapshot = s.bytes.clone();
                d.snapshot_seq = s.upto;
                d.record = s.record.clone();
                saved += 1;
            }
        }
        Ok(saved)
    }

    fn pull(
        &self,
        cursor: u64,
        max_bytes: usize,
        visible: &dyn Fn(&DocScope) -> bool,
        exclude: &OwnChanges,
        held: &HashSet<[u8; 16]>,
    ) -> Result<PullPage> {
        let inner = self.lock();
        let start = inner.log.partition_point(|r| r.seq <= cursor);
        let mut page = PageBuilder::new(cursor, max_bytes, held);
        for row in &inner.log[start..] {
            let Some(doc) = inner.docs.get(&row.doc) else {
                page.skip(row.seq);
                continue;
            };
            let excluded = row.hash.is_some_and(|h| exclude.hashes.contains(&h));
            if !visible(&doc.scope) || excluded || page.has_whole(&row.doc) {
                page.skip(row.seq);
                continue;
            }
            // A move marker (the device may just have gained the document), or a document
            // created after the cursor (the device has none of it): the whole document, as its
            // snapshot and the changes after it.
            let created = doc.rows.first().map_or(0, |&i| inner.log[i].seq);
            let whole = row.hash.is_none() || created > cursor;
            let chunks = if whole {
                inner.stored(doc).into_whole()
            } else {
                (vec![row.bytes.clone()], None)
            };
            if !page.add(row.seq, &row.doc, doc.kind.as_str(), chunks, whole) {
                break;
            }
        }
        let last = inner.log.last().map_or(0, |r| r.seq);
        Ok(page.finish(last))
    }
}
