//! The PostgreSQL [`SyncStorage`]: the change log and documents in one PostgreSQL database,
//! shared by any number of stateless server instances (`serve --db postgres://…`).
//!
//! Same model as the SQLite store (schema in `server/migrations/postgres/`): an append-only
//! log deduplicated by change hash, documents with scope, version and a snapshot the
//! background compaction rebuilds. What differs is how commits are ordered: PostgreSQL runs
//! many writers at once, so every commit first locks the single row of `sync_counter` and
//! hands out log positions from it. The lock is held until COMMIT, and PostgreSQL makes a
//! transaction visible before it releases its locks, so the next writer's positions become
//! visible only after this one's: a pull cursor never skips a change that commits late, on
//! any instance. Reads (document loads, pulls) never take that lock. It must not authorize
//! or validate (the engine does) and never updates or deletes a log row.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::ChangeHash;
use firegrid_core::store::RecordKind;
use firegrid_core::{Error, Result};
use postgres::{GenericClient, IsolationLevel, Transaction};

use super::{
    CommitOutcome, DocScope, DocWrite, OwnChanges, PageBuilder, PullPage, Snapshot, StoredDoc,
    SyncStorage, seed_document, snapshot_digest,
};
use crate::pg::{PgPool, backend};

/// Migrations of the sync tables, in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_sync_log.sql"),
    include_str!("../../migrations/postgres/002_created_seq.sql"),
    include_str!("../../migrations/postgres/003_blobs.sql"),
    include_str!("../../migrations/postgres/004_records.sql"),
];

/// Rows fetched per round trip while a pull pages through the log.
const FETCH_ROWS: i32 = 512;

/// The log joined with the documents, filtered by scope in SQL. `$1` the cursor; `$2` whether
/// street-wide documents are visible; `$3` the communities whose community-wide documents are
/// visible; `$4`/`$5` the visible (community, grid) pairs.
/// The last column is the document's held digest while its snapshot is its whole history.
const PULL_SQL: &str = "
    SELECT l.seq, l.doc_id, l.hash, d.kind, l.bytes, d.created_seq,
           CASE WHEN d.snapshot_seq >= d.version THEN d.digest END
    FROM change_log AS l JOIN doc AS d ON d.id = l.doc_id
    WHERE l.seq > $1
      AND CASE
            WHEN d.is_street THEN $2
            WHEN d.grid IS NULL THEN d.community = ANY($3)
            ELSE (d.community, d.grid) IN (SELECT * FROM unnest($4::text[], $5::text[]))
          END
      AND ($6 OR d.created_seq <= $1 OR l.seq = d.created_seq OR length(l.bytes) = 0)
    ORDER BY l.seq";

/// Server storage in PostgreSQL. `Send + Sync`; each call checks a connection out of the pool.
pub struct PgStorage {
    pool: Arc<PgPool>,
    /// Test fault injection: how long a commit waits, holding its positions, before COMMIT.
    commit_pause: Mutex<Option<Duration>>,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Documents as stored, one per id in order (`None` where there is none): their rows and the
/// changes logged after their snapshots, in one statement for them all.
fn read_docs(client: &mut impl GenericClient, ids: &[&str]) -> Result<Vec<Option<StoredDoc>>> {
    let rows = client
        .query(
            "SELECT d.id, d.kind, d.bytes, d.snapshot_seq, d.version,
                    coalesce((SELECT array_agg(l.bytes ORDER BY l.seq) FROM change_log AS l
                              WHERE l.doc_id = d.id AND l.seq > d.snapshot_seq
                                AND length(l.bytes) > 0),
                             '{}'::bytea[]),
                    d.community, d.grid, d.is_street, d.parent, d.record
             FROM doc AS d WHERE d.id = ANY($1)",
            &[&ids],
        )
        .map_err(backend)?;
    let mut found: HashMap<String, StoredDoc> = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.get(0);
        let kind: String = row.get(1);
        let kind = kind
            .parse()
            .map_err(|_| Error::corrupt(&id, "unknown record kind"))?;
        let stored = StoredDoc {
            kind,
            snapshot: row.get(2),
            snapshot_seq: to_u64(row.get(3)),
            record: row.get(10),
            version: to_u64(row.get(4)),
            tail: row.get(5),
            scope: DocScope::from_columns(row.get(6), row.get(7), row.get(8))?,
            parent: row.get(9),
        };
        found.insert(id, stored);
    }
    // An id named twice gets its document each time: taken at its last mention, copied before.
    Ok(ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if ids[i + 1..].contains(id) {
                found.get(*id).cloned()
            } else {
                found.remove(*id)
            }
        })
        .collect())
}

/// A document as stored (see [`read_docs`]).
fn read_doc(client: &mut impl GenericClient, id: &str) -> Result<Option<StoredDoc>> {
    Ok(read_docs(client, &[id])?.pop().flatten())
}

/// Gives `w.doc` and the documents whose parent it is the scope `w.scope`, each with a move
/// marker at the next log position (see [`SyncStorage`]); returns the last position used.
fn move_scope(
    tx: &mut Transaction<'_>,
    w: &DocWrite,
    mut next: i64,
    device_id: &str,
    received_ms: i64,
) -> Result<i64> {
    let mut ids = vec![w.doc.clone()];
    for r in tx
        .query(
            "SELECT id FROM doc WHERE parent = $1 ORDER BY id",
            &[&w.doc],
        )
        .map_err(backend)?
    {
        ids.push(r.get(0));
    }
    let (community, grid, is_street) = w.scope.columns();
    for id in ids {
        next += 1;
        let mut hash = [0u8; 32];
        getrandom::fill(&mut hash).map_err(|e| Error::Integrity(format!("no randomness: {e}")))?;
        tx.execute(
            "INSERT INTO change_log(seq, doc_id, hash, device_id, received_ms, bytes)
             VALUES ($1, $2, $3, $4, $5, ''::bytea)",
            &[&next, &id, &hash.as_slice(), &device_id, &received_ms],
        )
        .map_err(backend)?;
        tx.execute(
            "UPDATE doc SET community = $2, grid = $3, is_street = $4, version = $5 WHERE id = $1",
            &[&id, &community, &grid, &is_street, &next],
        )
        .map_err(backend)?;
    }
    Ok(next)
}

impl PgStorage {
    /// Opens the sync tables in the pool's database, creating or migrating them (safe when
    /// several instances start at once) and creating the epoch on first use.
    pub fn open(pool: Arc<PgPool>) -> Result<PgStorage> {
        {
            let mut conn = pool.get().map_err(backend)?;
            crate::pg::migrate(&mut conn, "sync", MIGRATIONS).map_err(Error::Backend)?;
            conn.execute(
                "INSERT INTO sync_meta(key, value) VALUES ('epoch', $1) ON CONFLICT DO NOTHING",
                &[&uuid::Uuid::new_v4().simple().to_string()],
            )
            .map_err(backend)?;
        }
        Ok(PgStorage {
            pool,
            commit_pause: Mutex::new(None),
        })
    }

    /// Test fault injection: makes every later commit wait `pause` after writing its rows,
    /// still holding its log positions, before COMMIT (the late-commit race test).
    pub fn set_commit_pause(&self, pause: Option<Duration>) {
        *self.commit_pause.lock().unwrap_or_else(|p| p.into_inner()) = pause;
    }

    /// Stores a whole document as it is (seeding from fixtures), bypassing authorization.
    pub fn seed_document(&self, id: &str, kind: RecordKind, bytes: &[u8]) -> Result<()> {
        seed_document(self, id, kind, bytes)
    }

    /// Every stored document's id and saved bytes, by id (tests compare replicas with it).
    pub fn documents(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let ids: Vec<String> = {
            let mut conn = self.pool.get().map_err(backend)?;
            conn.query("SELECT id FROM doc ORDER BY id", &[])
                .map_err(backend)?
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(stored) = self.load_doc(&id)? {
                let bytes = stored.to_automerge(&id)?.save();
                out.push((id, bytes));
            }
        }
        Ok(out)
    }

    /// Number of changes in the log.
    pub fn log_len(&self) -> Result<usize> {
        let mut conn = self.pool.get().map_err(backend)?;
        let n: i64 = conn
            .query_one("SELECT count(*) FROM change_log", &[])
            .map_err(backend)?
            .get(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs `f` in a read-only REPEATABLE READ transaction: one consistent snapshot.
    fn read<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get().map_err(backend)?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(backend)?;
        let out = f(&mut tx)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }
}

/// The scopes a pull may return, as the parameters `$2`–`$5` of [`PULL_SQL`].
type ScopeParams = (bool, Vec<String>, Vec<String>, Vec<String>);

fn visible_scopes(
    tx: &mut Transaction<'_>,
    visible: &dyn Fn(&DocScope) -> bool,
) -> Result<ScopeParams> {
    let mut out: ScopeParams = (false, Vec::new(), Vec::new(), Vec::new());
    let rows = tx
        .query("SELECT DISTINCT community, grid, is_street FROM doc", &[])
        .map_err(backend)?;
    for row in rows {
        let scope = DocScope::from_columns(row.get(0), row.get(1), row.get(2))?;
        if !visible(&scope) {
            continue;
        }
        match scope {
            DocScope::Street => out.0 = true,
            DocScope::Area {
                community,
                grid: None,
            } => out.1.push(community),
            DocScope::Area {
                community,
                grid: Some(grid),
            } => {
                out.2.push(community);
                out.3.push(grid);
            }
        }
    }
    Ok(out)
}

impl SyncStorage for PgStorage {
    fn epoch(&self) -> Result<String> {
        let mut conn = self.pool.get().map_err(backend)?;
        conn.query_opt("SELECT value FROM sync_meta WHERE key = 'epoch'", &[])
            .map_err(backend)?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Integrity("the server database has no epoch".into()))
    }

    fn max_seq(&self) -> Result<u64> {
        let mut conn = self.pool.get().map_err(backend)?;
        let seq: i64 = conn
            .query_one("SELECT coalesce(max(seq), 0)::bigint FROM change_log", &[])
            .map_err(backend)?
            .get(0);
        Ok(to_u64(seq))
    }

    /// The document row and its tail in one statement (one snapshot).
    fn load_doc(&self, id: &str) -> Result<Option<StoredDoc>> {
        let mut conn = self.pool.get().map_err(backend)?;
        read_doc(&mut *conn, id)
    }

    /// One query for the batch: one round trip to the database instead of one per document.
    fn load_docs(&self, ids: &[&str]) -> Result<Vec<Option<StoredDoc>>> {
        let mut conn = self.pool.get().map_err(backend)?;
        read_docs(&mut *conn, ids)
    }

    fn premises_scope(&self, id: &str) -> Result<Option<DocScope>> {
        let mut conn = self.pool.get().map_err(backend)?;
        let row = conn
            .query_opt(
                "SELECT community, grid, is_street FROM doc WHERE id = $1 AND kind = $2",
                &[&id, &RecordKind::Premises.as_str()],
            )
            .map_err(backend)?;
        row.map(|r| DocScope::from_columns(r.get(0), r.get(1), r.get(2)))
            .transpose()
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

    /// One transaction: lock the counter row (commits queue here, across instances), compare
    /// every write's `base` with its document's version, append the changes not yet stored
    /// with the next positions (two statements for the whole request, not one per change),
    /// upsert the document rows, move the counter, COMMIT (durable with PostgreSQL's default
    /// `synchronous_commit = on`).
    fn commit(&self, device_id: &str, writes: &[DocWrite]) -> Result<CommitOutcome> {
        if writes.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        // The server's clock: the trusted receive time (D9).
        let received_ms = firegrid_core::vocab::now_ms();
        let mut conn = self.pool.get().map_err(backend)?;
        let mut tx = conn.transaction().map_err(backend)?;
        let mut next: i64 = tx
            .query_one("SELECT seq FROM sync_counter WHERE id = 1 FOR UPDATE", &[])
            .map_err(backend)?
            .get(0);
        let ids: Vec<&str> = writes.iter().map(|w| w.doc.as_str()).collect();
        let mut current: HashMap<String, (i64, DocScope)> = HashMap::new();
        for r in tx
            .query(
                "SELECT id, version, community, grid, is_street FROM doc WHERE id = ANY($1)",
                &[&ids],
            )
            .map_err(backend)?
        {
            let scope = DocScope::from_columns(r.get(2), r.get(3), r.get(4))?;
            current.insert(r.get(0), (r.get(1), scope));
        }
        for w in writes {
            if to_u64(current.get(&w.doc).map_or(0, |c| c.0)) != w.base {
                return Ok(CommitOutcome::Stale(w.doc.clone()));
            }
        }
        let hashes: Vec<&[u8]> = writes
            .iter()
            .flat_map(|w| w.changes.iter().map(|(h, _)| h.as_ref()))
            .collect();
        let mut stored: HashSet<Vec<u8>> = tx
            .query(
                "SELECT hash FROM change_log WHERE hash = ANY($1)",
                &[&hashes],
            )
            .map_err(backend)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (mut seqs, mut docs, mut hs, mut bytes) = (vec![], vec![], vec![], vec![]);
        let (mut d_id, mut d_kind, mut d_comm, mut d_grid, mut d_street, mut d_ver) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut d_parent: Vec<Option<&str>> = vec![];
        let mut d_first: Vec<i64> = vec![];
        let (mut d_bytes, mut d_snap): (Vec<&[u8]>, Vec<i64>) = (vec![], vec![]);
        let mut d_record: Vec<Option<&[u8]>> = vec![];
        let mut d_digest: Vec<Option<Vec<u8>>> = vec![];
        let mut moved: Vec<&DocWrite> = vec![];
        for w in writes {
            let (mut first, mut last, mut logged) = (None, None, 0);
            for (hash, raw) in &w.changes {
                if !stored.insert(hash.as_ref().to_vec()) {
                    continue; // already stored, or twice in this request
                }
                next += 1;
                last = Some(next);
                first = first.or(last);
                logged += 1;
                seqs.push(next);
                docs.push(w.doc.as_str());
                hs.push(hash.as_ref());
                bytes.push(raw.as_slice());
            }
            if last.is_none() && w.base == 0 {
                continue; // a new document with nothing new to store: no row for it
            }
            let (community, grid, is_street) = w.scope.columns();
            d_id.push(w.doc.as_str());
            d_kind.push(w.kind.as_str());
            d_comm.push(community);
            d_grid.push(grid);
            d_street.push(is_street);
            d_ver.push(last.unwrap_or(0));
            d_parent.push(w.parent.as_deref());
            d_first.push(first.unwrap_or(0));
            // A new document's snapshot, when it holds exactly what was logged for it.
            let snapshot = w
                .snapshot
                .as_deref()
                .filter(|_| w.base == 0 && logged == w.changes.len());
            d_bytes.push(snapshot.unwrap_or_default());
            d_record.push(w.record.as_deref().filter(|_| snapshot.is_some()));
            d_digest.push(
                snapshot
                    .and_then(|s| snapshot_digest(&w.doc, s))
                    .map(|d| d.to_vec()),
            );
            d_snap.push(if snapshot.is_some() {
                last.unwrap_or(0)
            } else {
                0
            });
            if current.get(&w.doc).is_some_and(|(_, old)| *old != w.scope) {
                moved.push(w);
            }
        }
        if !seqs.is_empty() {
            tx.execute(
                "INSERT INTO change_log(seq, doc_id, hash, device_id, received_ms, bytes)
                 SELECT s, d, h, $4, $5, b
                 FROM unnest($1::bigint[], $2::text[], $3::bytea[], $6::bytea[]) AS t(s, d, h, b)",
                &[&seqs, &docs, &hs, &device_id, &received_ms, &bytes],
            )
            .map_err(backend)?;
        }
        if !d_id.is_empty() {
            tx.execute(
                "INSERT INTO doc(id, kind, bytes, community, grid, is_street, version, parent,
                                 created_seq, snapshot_seq, record, digest)
                 SELECT i, k, b, c, g, s, v, p, f, n, r, h
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[],
                             $6::bigint[], $7::text[], $8::bigint[], $9::bytea[], $10::bigint[],
                             $11::bytea[], $12::bytea[])
                      AS t(i, k, c, g, s, v, p, f, b, n, r, h)
                 ON CONFLICT (id) DO UPDATE SET community = excluded.community,
                     grid = excluded.grid, is_street = excluded.is_street,
                     version = greatest(doc.version, excluded.version),
                     parent = excluded.parent",
                &[
                    &d_id, &d_kind, &d_comm, &d_grid, &d_street, &d_ver, &d_parent, &d_first,
                    &d_bytes, &d_snap, &d_record, &d_digest,
                ],
            )
            .map_err(backend)?;
        }
        for w in moved {
            next = move_scope(&mut tx, w, next, device_id, received_ms)?;
        }
        tx.execute("UPDATE sync_counter SET seq = $1 WHERE id = 1", &[&next])
            .map_err(backend)?;
        let pause = *self.commit_pause.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
        tx.commit().map_err(backend)?;
        Ok(CommitOutcome::Committed)
    }

    fn list_docs(&self, kind: RecordKind) -> Result<Vec<(String, DocScope)>> {
        let mut conn = self.pool.get().map_err(backend)?;
        let rows = conn
            .query(
                "SELECT id, community, grid, is_street FROM doc WHERE kind = $1
                 ORDER BY id COLLATE \"C\"",
                &[&kind.as_str()],
            )
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get(0),
                    DocScope::from_columns(r.get(1), r.get(2), r.get(3))?,
                ))
            })
            .collect()
    }

    fn dirty_docs(&self, limit: usize) -> Result<Vec<String>> {
        let mut conn = self.pool.get().map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(conn
            .query(
                "SELECT id FROM doc WHERE snapshot_seq < version ORDER BY id LIMIT $1",
                &[&limit],
            )
            .map_err(backend)?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<usize> {
        if snapshots.is_empty() {
            return Ok(0);
        }
        let mut conn = self.pool.get().map_err(backend)?;
        let mut tx = conn.transaction().map_err(backend)?;
        let stmt = tx
            .prepare(
                "UPDATE doc SET bytes = $2, snapshot_seq = $3, record = $5, digest = $6
                 WHERE id = $1 AND snapshot_seq = $4 AND version >= $3",
            )
            .map_err(backend)?;
        let mut saved = 0;
        for s in snapshots {
            let n = tx
                .execute(
                    &stmt,
                    &[
                        &s.doc,
                        &s.bytes,
                        &to_i64(s.upto),
                        &to_i64(s.base),
                        &s.record,
                        &snapshot_digest(&s.doc, &s.bytes).map(|d| d.to_vec()),
                    ],
                )
                .map_err(backend)?;
            saved += usize::try_from(n).unwrap_or(0);
        }
        tx.commit().map_err(backend)?;
        Ok(saved)
    }

    /// The same page as the other stores, from one REPEATABLE READ snapshot, fetched in
    /// batches through a portal so a long backlog is never read further than the page needs.
    fn pull(
        &self,
        cursor: u64,
        max_bytes: usize,
        visible: &dyn Fn(&DocScope) -> bool,
        exclude: &OwnChanges,
        held: &HashSet<[u8; 16]>,
    ) -> Result<PullPage> {
        let after = to_i64(cursor);
        self.read(|tx| {
            let (street, communities, pair_c, pair_g) = visible_scopes(tx, visible)?;
            let last: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0)::bigint FROM change_log", &[])
                .map_err(backend)?
                .get(0);
            let mut page = PageBuilder::new(cursor, max_bytes, held);
            // As in the SQLite store: a document created after the cursor is sent whole at
            // its first row, so its later rows are not read, unless some rows are excluded.
            let every_row = !exclude.hashes.is_empty();
            let portal = tx
                .bind(
                    PULL_SQL,
                    &[&after, &street, &communities, &pair_c, &pair_g, &every_row],
                )
                .map_err(backend)?;
            'fetch: loop {
                let rows = tx.query_portal(&portal, FETCH_ROWS).map_err(backend)?;
                for row in &rows {
                    let seq = to_u64(row.get::<_, i64>(0));
                    let doc: &str = row.get(1);
                    let hash: &[u8] = row.get(2);
                    if page.has_whole(doc)
                        || (!exclude.hashes.is_empty()
                            && ChangeHash::try_from(hash)
                                .is_ok_and(|h| exclude.hashes.contains(&h)))
                    {
                        page.skip(seq);
                        continue;
                    }
                    let bytes: &[u8] = row.get(4);
                    // A move marker (the device may just have gained the document), or a
                    // document created after the cursor (the device has none of it): the whole
                    // document, as its snapshot and the changes after it.
                    let whole = bytes.is_empty() || row.get::<_, i64>(5) > after;
                    // Held by the device at the snapshot's heads: left out without reading it.
                    if whole && page.held_whole(seq, doc, row.get::<_, Option<&[u8]>>(6)) {
                        continue;
                    }
                    let chunks = if whole {
                        read_doc(tx, doc)?
                            .map(StoredDoc::into_whole)
                            .unwrap_or_default()
                    } else {
                        (vec![bytes.to_vec()], None)
                    };
                    if !page.add(seq, doc, row.get(3), chunks, whole) {
                        break 'fetch;
                    }
                }
                if rows.len() < FETCH_ROWS as usize {
                    break;
                }
            }
            Ok(page.finish(to_u64(last)))
        })
    }
}
