//! The server's side of sync, sans I/O: authorize and validate each pushed document, store its
//! new changes durably (through a [`SyncStorage`]), then answer with the changes in the
//! caller's scope after its cursor. The HTTP handler only decodes, calls [`handle`] and encodes.
//!
//! Rules enforced here for every document of every request: the user's role may write that
//! kind; the document lies in the user's scope before and after the change; every new change's
//! actor belongs to the sending device; the merged document is a valid record of its kind.
//! Refusals never reveal whether an id exists elsewhere.

pub mod compact;
pub mod memory;
pub mod postgres;
pub mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use automerge::{AutoCommit, Change, ChangeHash};
use firegrid_core::access::{Place, Role, Scope, ScopeKind, User};
use firegrid_core::hydrate::{self, Record};
use firegrid_core::store::RecordKind;
use firegrid_core::sync::protocol::{
    DocChanges, MAX_HELD, MAX_MESSAGE_BYTES, PushAck, PushOutcome, RefusalReason, SyncRequest,
    SyncResponse, document_heads, held_digest, is_document_chunk,
};
use firegrid_core::{Error, Result};

/// Most changes accepted for one document in one request.
pub const MAX_CHANGES_PER_DOC: usize = 10_000;
/// Most documents pushed in one request.
pub const MAX_DOCS_PER_REQUEST: usize = 20_000;

/// Where a document belongs, for authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocScope {
    /// Street-wide reference data (organisation, users, checklists, standards).
    Street,
    /// Data of one place: its community and, for premises and their records, its grid.
    Area {
        /// Community id.
        community: String,
        /// Grid id, if the record belongs to one grid.
        grid: Option<String>,
    },
}

impl DocScope {
    /// As the `doc` table's columns in both database stores: `(community, grid, is_street)`.
    pub fn columns(&self) -> (Option<&str>, Option<&str>, bool) {
        match self {
            DocScope::Street => (None, None, true),
            DocScope::Area { community, grid } => (Some(community), grid.as_deref(), false),
        }
    }

    /// From the `doc` table's columns (a CHECK constraint keeps them well formed).
    pub fn from_columns(
        community: Option<String>,
        grid: Option<String>,
        is_street: bool,
    ) -> Result<DocScope> {
        match (is_street, community, grid) {
            (true, None, None) => Ok(DocScope::Street),
            (false, Some(community), grid) => Ok(DocScope::Area { community, grid }),
            _ => Err(Error::Integrity(
                "a document's scope columns are inconsistent".into(),
            )),
        }
    }
}

/// Who is asking: an authenticated user on a registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user, as the server knows them now (role and scope checked on every request).
    pub user: User,
    /// The device's id (its first 8 bytes start every actor of its changes).
    pub device_id: String,
}

/// A document as the server stores it: a snapshot of its changes up to one log position, and
/// the changes logged after it (the background compaction folds them into a new snapshot).
#[derive(Debug, Clone)]
pub struct StoredDoc {
    /// Record kind.
    pub kind: RecordKind,
    /// `Automerge::save()` of the document's changes up to `snapshot_seq` (empty: none yet).
    pub snapshot: Vec<u8>,
    /// The log position the snapshot covers.
    pub snapshot_seq: u64,
    /// The record the snapshot makes, as [`Record::encode`] wrote it when the snapshot was
    /// stored (`None`: not a kind that travels so, or stored before schema 6). Pulls send it
    /// with a document sent as the snapshot alone ([`SyncResponse::records`]).
    pub record: Option<Vec<u8>>,
    /// The document's changes after `snapshot_seq`, in log order.
    pub tail: Vec<Vec<u8>>,
    /// The log position of the document's latest change: its version. A commit names the
    /// version its checks saw and is refused as stale if another commit came in between.
    pub version: u64,
    /// Where it belongs now: the scope its last commit gave it, moved with its parent since
    /// (what pulls filter on).
    pub scope: DocScope,
    /// The document it takes its scope from (an inspection's or hazard's premises).
    pub parent: Option<String>,
}

impl StoredDoc {
    /// The whole document as automerge chunks for a pull: the snapshot (a saved document),
    /// if any, then the changes after it.
    pub fn into_chunks(self) -> Vec<Vec<u8>> {
        self.into_whole().0
    }

    /// [`into_chunks`](Self::into_chunks), and the stored record when the chunks are the
    /// snapshot alone (nothing logged after it), which is then exactly what it makes.
    pub fn into_whole(self) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
        if self.tail.is_empty() && !self.snapshot.is_empty() {
            return (vec![self.snapshot], self.record);
        }
        let mut chunks = Vec::with_capacity(self.tail.len() + 1);
        if !self.snapshot.is_empty() {
            chunks.push(self.snapshot);
        }
        chunks.extend(self.tail);
        (chunks, None)
    }

    /// The whole document: the snapshot with the tail applied.
    pub fn to_automerge(&self, id: &str) -> Result<AutoCommit> {
        let mut doc = if self.snapshot.is_empty() {
            AutoCommit::new()
        } else {
            AutoCommit::load(&self.snapshot).map_err(|e| Error::corrupt(id, e))?
        };
        if !self.tail.is_empty() {
            let mut changes = Vec::with_capacity(self.tail.len());
            for raw in &self.tail {
                changes.push(Change::try_from(raw.as_slice()).map_err(|e| Error::corrupt(id, e))?);
            }
            doc.apply_changes(changes)
                .map_err(|e| Error::corrupt(id, e))?;
        }
        Ok(doc)
    }
}

/// New changes of one document to store.
#[derive(Debug, Clone)]
pub struct DocWrite {
    /// Record id.
    pub doc: String,
    /// Record kind.
    pub kind: RecordKind,
    /// Where it belongs after these changes.
    pub scope: DocScope,
    /// The document it takes its scope from (an inspection's or hazard's premises): when
    /// that one moves, this one moves with it.
    pub parent: Option<String>,
    /// The document's version these changes were checked against (0: it did not exist). If
    /// the stored version differs at commit time, the commit is refused as stale.
    pub base: u64,
    /// The changes (hash and raw bytes), in causal order; ones already stored are skipped.
    pub changes: Vec<(ChangeHash, Vec<u8>)>,
    /// For a new document (`base` 0): `Automerge::save()` of exactly these changes. The
    /// commit stores it as the document's snapshot when it logs every one of them, so a new
    /// record is pulled whole at once instead of waiting for the compaction.
    pub snapshot: Option<Vec<u8>>,
    /// With `snapshot`: the record it makes, encoded ([`Record::encode`]), stored with it.
    /// Made by the server from the document it read, never taken from a device.
    pub record: Option<Vec<u8>>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Every write is durable.
    Committed,
    /// Nothing was written: this document changed since its checks (its `base`) — check again.
    Stale(String),
}

/// The changes a sync request pushed and committed, left out of the same request's pull (the
/// device has them).
#[derive(Debug, Clone, Default)]
pub struct OwnChanges {
    /// Their hashes: every store leaves out the rows of these changes.
    pub hashes: HashSet<ChangeHash>,
    /// The log positions the commit appended them at (first, last), when the store knows that
    /// only that commit wrote in between (see [`SyncStorage::commit_run`]). A store may then
    /// leave out the change rows in it without reading them; move markers in it are still read.
    pub run: Option<(u64, u64)>,
}

/// A new snapshot of one document, made by the compaction.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Record id.
    pub doc: String,
    /// `Automerge::save()` of its changes up to `upto`.
    pub bytes: Vec<u8>,
    /// The record it makes, encoded ([`Record::encode`]), if its kind travels so.
    pub record: Option<Vec<u8>>,
    /// The log position it covers.
    pub upto: u64,
    /// The snapshot position it was built from: it replaces only that one.
    pub base: u64,
}

/// One page of the log.
#[derive(Debug, Clone, Default)]
pub struct PullPage {
    /// Changes grouped by document, in log order.
    pub docs: Vec<DocChanges>,
    /// One per entry of `docs`: the stored record of a document sent as its snapshot alone.
    pub records: Vec<Option<Vec<u8>>>,
    /// Log position after this page.
    pub cursor: u64,
    /// More visible changes wait after `cursor`.
    pub more: bool,
}

/// Builds one pull page by the same rules in every store: changes grouped by document in log
/// order under about `max_bytes`; a document sent whole (a move marker, or created after the
/// cursor) replaces what the page holds of it and its later rows are skipped; when the page
/// fills up, the cursor stops just before the first row left out, otherwise it reaches the end
/// of the log.
/// A document to be sent whole that the device holds at the same heads (it named it in
/// [`SyncRequest::held`]) is left out, as if sent.
#[derive(Debug)]
pub struct PageBuilder<'a> {
    page: PullPage,
    index: std::collections::HashMap<String, usize>,
    whole: HashSet<String>,
    held: &'a HashSet<[u8; 16]>,
    size: usize,
    max_bytes: usize,
}

impl<'a> PageBuilder<'a> {
    /// An empty page after `cursor`, for a device holding the documents named in `held`.
    pub fn new(cursor: u64, max_bytes: usize, held: &'a HashSet<[u8; 16]>) -> PageBuilder<'a> {
        PageBuilder {
            page: PullPage {
                cursor,
                ..Default::default()
            },
            index: Default::default(),
            whole: HashSet::new(),
            held,
            size: 0,
            max_bytes,
        }
    }

    /// Whether `digest`, the held digest of a document's snapshot that is its whole history
    /// (see [`snapshot_digest`]), names what the device holds. If so, the row at `seq` is
    /// passed over as sent (the document is left out, and its later rows with it) and `true`
    /// returned: the store need not read the document. A store that knows no digest reads the
    /// document and [`add`](Self::add) decides the same from its chunks.
    pub fn held_whole(&mut self, seq: u64, doc: &str, digest: Option<&[u8]>) -> bool {
        let holds = digest
            .and_then(|d| <[u8; 16]>::try_from(d).ok())
            .is_some_and(|d| self.held.contains(&d));
        if holds {
            self.whole.insert(doc.to_string());
            self.page.cursor = seq;
        }
        holds
    }

    /// Whether `doc` is in the page whole already (its later rows add nothing).
    pub fn has_whole(&self, doc: &str) -> bool {
        self.whole.contains(doc)
    }

    /// Passes over a row that is not sent (invisible, excluded, or already in a whole document).
    pub fn skip(&mut self, seq: u64) {
        self.page.cursor = seq;
    }

    /// Adds the row at `seq`: `chunks` of `doc`, its whole history if `whole` (then with
    /// `record`, the record they make, if known). Returns `false` (the page is full, nothing
    /// added) when they do not fit and the page is not empty.
    pub fn add(
        &mut self,
        seq: u64,
        doc: &str,
        kind: &str,
        (chunks, record): (Vec<Vec<u8>>, Option<Vec<u8>>),
        whole: bool,
    ) -> bool {
        // One saved document the device holds at exactly its heads (read from its header).
        if whole
            && !self.held.is_empty()
            && let [snapshot] = chunks.as_slice()
            && self.held_whole(
                seq,
                doc,
                snapshot_digest(doc, snapshot).as_ref().map(|d| &d[..]),
            )
        {
            return true;
        }
        let record = record.filter(|_| whole);
        let len: usize =
            chunks.iter().map(Vec::len).sum::<usize>() + record.as_ref().map_or(0, |r| r.len() + 8);
        if self.size > 0 && self.size + len > self.max_bytes {
            self.page.more = true;
            self.page.cursor = seq - 1;
            return false;
        }
        self.size += len + 8 * chunks.len();
        let page = &mut self.page;
        let i = *self.index.entry(doc.to_string()).or_insert_with(|| {
            page.docs.push(DocChanges {
                doc: doc.to_string(),
                kind: kind.to_string(),
                changes: Vec::new(),
            });
            page.records.push(None);
            page.docs.len() - 1
        });
        if whole {
            self.whole.insert(doc.to_string());
            page.docs[i].changes = chunks;
            page.records[i] = record;
        } else {
            // Changes after what was sent: a record sent with it would now be short of them.
            page.docs[i].changes.extend(chunks);
            page.records[i] = None;
        }
        page.cursor = seq;
        true
    }

    /// The page; when it is not full, its cursor is the end of the log (`last`).
    pub fn finish(mut self, last: u64) -> PullPage {
        if !self.page.more {
            self.page.cursor = self.page.cursor.max(last);
        }
        self.page
    }
}

/// What the sync engine needs from a store (embedded SQLite, PostgreSQL, or memory in tests).
/// `commit` must be durable when it returns, all or nothing, refuse a write whose `base` is
/// not the document's stored version (no lost update), and give every stored change a log
/// position such that a reader never sees position N+1 before N is committed. The log is
/// append-only: snapshots are a cache of it that compaction rebuilds, never the truth.
///
/// Scope moves: when a write gives a stored document another scope, `commit` moves the
/// documents whose `parent` it is to the same scope, and logs a *move marker* (a log row with
/// no change bytes) for each moved document, which moves its version too. A pull that meets a
/// marker of a visible document sends that document's whole history: devices that just
/// gained it have none of its earlier changes (their cursors passed them while it was out of
/// their scope). Loads and compaction skip markers.
pub trait SyncStorage: Send + Sync + std::fmt::Debug {
    /// The epoch of this server's history (new when the history is replaced, e.g. restored).
    fn epoch(&self) -> Result<String>;
    /// The highest log position.
    fn max_seq(&self) -> Result<u64>;
    /// A stored document.
    fn load_doc(&self, id: &str) -> Result<Option<StoredDoc>>;
    /// Stored documents, one per id in order (`None` where there is none), read together
    /// (the checks of a push read its documents in batches of [`CHECK_BATCH`]): by default one
    /// [`load_doc`](Self::load_doc) each; the stores read a batch in one read transaction or
    /// one query.
    fn load_docs(&self, ids: &[&str]) -> Result<Vec<Option<StoredDoc>>> {
        ids.iter().map(|id| self.load_doc(id)).collect()
    }
    /// The scope of a stored premises.
    fn premises_scope(&self, id: &str) -> Result<Option<DocScope>>;
    /// The communities a micro station serves.
    fn station_communities(&self, station: &str) -> Result<Vec<String>>;
    /// Every stored document of one kind, as its id and scope, ordered by id (exports such as
    /// the ledger filter on the scope before they load a document).
    fn list_docs(&self, kind: RecordKind) -> Result<Vec<(String, DocScope)>>;
    /// Stores the writes durably, in one transaction, unless one is stale.
    fn commit(&self, device_id: &str, writes: &[DocWrite]) -> Result<CommitOutcome>;
    /// [`commit`](Self::commit), also giving the run of log positions it appended changes at
    /// when no other commit can have written inside that run ([`OwnChanges::run`]); `None`
    /// when the store cannot say so (the default) or nothing was appended.
    fn commit_run(
        &self,
        device_id: &str,
        writes: &[DocWrite],
    ) -> Result<(CommitOutcome, Option<(u64, u64)>)> {
        Ok((self.commit(device_id, writes)?, None))
    }
    /// Up to `limit` documents whose snapshot is behind their version.
    fn dirty_docs(&self, limit: usize) -> Result<Vec<String>>;
    /// Stores new snapshots, each only if its document's snapshot is still at its `base`;
    /// returns how many were stored.
    fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<usize>;
    /// Visible changes after `cursor`, up to about `max_bytes`, leaving out `exclude` and the
    /// whole documents the device holds (`held`, see [`PageBuilder`]).
    fn pull(
        &self,
        cursor: u64,
        max_bytes: usize,
        visible: &dyn Fn(&DocScope) -> bool,
        exclude: &OwnChanges,
        held: &HashSet<[u8; 16]>,
    ) -> Result<PullPage>;
}

/// What one request's user may see, worked out once per request (a station's communities
/// are read from its record).
#[derive(Debug, Clone)]
struct Viewer<'a> {
    scope: &'a Scope,
    stations: Vec<String>,
}

impl<'a> Viewer<'a> {
    fn of(storage: &dyn SyncStorage, user: &'a User) -> Result<Viewer<'a>> {
        let stations = if user.scope.kind == ScopeKind::Station {
            storage.station_communities(&user.scope.id)?
        } else {
            Vec::new()
        };
        Ok(Viewer {
            scope: &user.scope,
            stations,
        })
    }

    fn sees(&self, scope: &DocScope) -> bool {
        visible_to(self.scope, &self.stations, scope)
    }
}

/// Whether `user` may see a document of this scope.
pub fn may_read(storage: &dyn SyncStorage, user: &User, scope: &DocScope) -> Result<bool> {
    let stations = if user.scope.kind == ScopeKind::Station {
        storage.station_communities(&user.scope.id)?
    } else {
        Vec::new()
    };
    Ok(visible_to(&user.scope, &stations, scope))
}

/// Whether `user`'s role may write documents of `kind` at all.
pub fn role_may_write(role: Role, kind: RecordKind) -> bool {
    match kind {
        RecordKind::Inspection => role.may_inspect(),
        // Departments append their reports to hazards dispatched to them; who may append
        // which event is checked event by event (check_hazard_events).
        RecordKind::Hazard => true,
        RecordKind::Premises => matches!(role, Role::StreetOffice | Role::Admin),
        _ => role == Role::Admin,
    }
}

/// The document whose scope this one follows: the premises of an inspection or a hazard.
pub fn parent_of(kind: RecordKind, doc: &AutoCommit) -> Option<String> {
    match kind {
        RecordKind::Inspection | RecordKind::Hazard => {
            hydrate::hydrate_prop::<String, _>(doc, &automerge::ROOT, "premises").ok()
        }
        _ => None,
    }
}

/// The scope of a document from its content.
pub fn scope_of(
    storage: &dyn SyncStorage,
    kind: RecordKind,
    doc: &AutoCommit,
) -> Result<Option<DocScope>> {
    let text = |name: &str| -> Option<String> {
        hydrate::hydrate_prop::<String, _>(doc, &automerge::ROOT, name).ok()
    };
    Ok(match kind {
        RecordKind::Premises => match (text("community"), text("grid")) {
            (Some(community), Some(grid)) => Some(DocScope::Area {
                community,
                grid: Some(grid),
            }),
            _ => None,
        },
        RecordKind::Inspection | RecordKind::Hazard => match text("premises") {
            Some(p) => storage.premises_scope(&p)?,
            None => None,
        },
        RecordKind::KeyResident => text("community").map(|community| DocScope::Area {
            community,
            grid: None,
        }),
        _ => Some(DocScope::Street),
    })
}

/// The scope of a valid record: what [`scope_of`] gives for its document, from the fields
/// already read. `placed` is its stored row's parent and scope: a record still under that
/// parent is still in that scope (the row moves with its parent), so nothing is looked up.
fn scope_of_record(
    lookups: &Lookups<'_>,
    record: &Record,
    placed: Option<&(String, DocScope)>,
) -> Result<Option<DocScope>> {
    if let (Some((parent, scope)), Record::Inspection(_) | Record::Hazard(_)) = (placed, record)
        && record.premises() == Some(parent.as_str())
    {
        return Ok(Some(scope.clone()));
    }
    Ok(match record {
        Record::Premises(p) => Some(DocScope::Area {
            community: p.community.clone(),
            grid: Some(p.grid.clone()),
        }),
        Record::Inspection(_) | Record::Hazard(_) => match record.premises() {
            Some(p) => lookups.premises_scope(p)?,
            None => None,
        },
        Record::KeyResident(r) => Some(DocScope::Area {
            community: r.community.clone(),
            grid: None,
        }),
        _ => Some(DocScope::Street),
    })
}

/// Stores a whole document as it is (seeding from fixtures), bypassing authorization: every
/// change of it, from device `seed`, with the scope its content gives (street-wide if none).
/// Changes already stored are skipped, so seeding twice is harmless.
pub fn seed_document(
    storage: &dyn SyncStorage,
    id: &str,
    kind: RecordKind,
    bytes: &[u8],
) -> Result<()> {
    let mut incoming = AutoCommit::load(bytes).map_err(|e| Error::corrupt(id, e))?;
    let scope = scope_of(storage, kind, &incoming)?.unwrap_or(DocScope::Street);
    let parent = parent_of(kind, &incoming);
    let snapshot = snapshot_of(bytes, &mut incoming);
    let record = Record::read_encoded(kind, &incoming);
    let changes: Vec<(ChangeHash, Vec<u8>)> = incoming
        .get_changes(&[])
        .into_iter()
        .map(|c| (c.hash(), c.raw_bytes().to_vec()))
        .collect();
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        let base = storage.load_doc(id)?.map_or(0, |d| d.version);
        let write = DocWrite {
            doc: id.to_string(),
            kind,
            scope: scope.clone(),
            parent: parent.clone(),
            base,
            changes: changes.clone(),
            snapshot: (base == 0).then(|| snapshot.clone()),
            record: record.clone().filter(|_| base == 0),
        };
        if storage.commit("seed", &[write])? == CommitOutcome::Committed {
            return Ok(());
        }
    }
    Err(Error::Backend(format!(
        "{id} keeps changing while it is seeded"
    )))
}

/// What a store keeps with a snapshot so a pull can leave the document out for a device that
/// holds it without reading it: the [`held_digest`] of the id and the heads the snapshot names
/// in its header (`None` if it names none: not a saved document).
pub fn snapshot_digest(id: &str, snapshot: &[u8]) -> Option<[u8; 16]> {
    document_heads(snapshot)
        .filter(|heads| !heads.is_empty())
        .map(|heads| held_digest(id, &heads))
}

/// The snapshot to store for a document loaded from `raw`: `raw` itself when it is one saved
/// document naming exactly the loaded heads (nothing trails it), else the document saved.
pub(crate) fn snapshot_of(raw: &[u8], doc: &mut AutoCommit) -> Vec<u8> {
    let mut named = document_heads(raw).unwrap_or_default();
    let mut heads = doc.get_heads();
    named.sort();
    heads.sort();
    if !named.is_empty() && named == heads {
        raw.to_vec()
    } else {
        doc.save()
    }
}

/// The first 8 bytes of a device id (a UUID in hex), which start every actor of its changes.
fn device_prefix(device_id: &str) -> Option<[u8; 8]> {
    let id = uuid::Uuid::parse_str(device_id).ok()?;
    let mut p = [0u8; 8];
    p.copy_from_slice(&id.as_bytes()[..8]);
    Some(p)
}

/// What the checks of one round read besides the pushed documents themselves, each read
/// once: the scopes of premises (the inspections of one push mostly share a few premises).
struct Lookups<'a> {
    storage: &'a dyn SyncStorage,
    premises: Mutex<HashMap<String, Option<DocScope>>>,
}

impl<'a> Lookups<'a> {
    fn new(storage: &'a dyn SyncStorage) -> Lookups<'a> {
        Lookups {
            storage,
            premises: Mutex::new(HashMap::new()),
        }
    }

    /// [`SyncStorage::premises_scope`], read once per premises.
    fn premises_scope(&self, id: &str) -> Result<Option<DocScope>> {
        let known = self
            .premises
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(scope) = known {
            return Ok(scope);
        }
        let scope = self.storage.premises_scope(id)?;
        self.premises
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_string(), scope.clone());
        Ok(scope)
    }
}

/// Checks one pushed document against `stored`, the document as stored under its id;
/// returns what to store, or why it is refused.
fn check_push(
    lookups: &Lookups<'_>,
    who: &Principal,
    viewer: &Viewer<'_>,
    push: &DocChanges,
    stored: Option<StoredDoc>,
) -> Result<std::result::Result<Option<DocWrite>, PushOutcome>> {
    let refuse = |reason| Ok(Err(PushOutcome::Refused { reason }));
    let Ok(kind) = push.kind.parse::<RecordKind>() else {
        return refuse(RefusalReason::Invalid);
    };
    if firegrid_core::vocab::validate_id("doc", &push.doc).is_err() {
        return refuse(RefusalReason::Invalid);
    }
    if push.changes.len() > MAX_CHANGES_PER_DOC {
        return refuse(RefusalReason::TooLarge);
    }
    // Chunks are changes or saved documents (a record new to the server comes whole).
    let mut changes = Vec::with_capacity(push.changes.len());
    let mut pushed_whole = None;
    for raw in &push.changes {
        if is_document_chunk(raw) {
            let Ok(mut loaded) = AutoCommit::load(raw) else {
                return refuse(RefusalReason::Invalid);
            };
            changes.extend(loaded.get_changes(&[]));
            if push.changes.len() == 1 {
                pushed_whole = Some(loaded);
            }
            continue;
        }
        match Change::try_from(raw.as_slice()) {
            Ok(c) => changes.push(c),
            Err(_) => return refuse(RefusalReason::Invalid),
        }
    }
    if changes.len() > MAX_CHANGES_PER_DOC {
        return refuse(RefusalReason::TooLarge);
    }
    // Nothing new: acknowledged, whoever pushes it (a device resending what it holds after the
    // server's history was restored, reference records a patroller may not write included).
    // This tells only someone holding these very changes that the server has them too.
    let mut stored_doc = match &stored {
        Some(s) if s.kind == kind => Some(s.to_automerge(&push.doc)?),
        _ => None,
    };
    if let Some(doc) = &mut stored_doc
        && !changes.is_empty()
        && changes
            .iter()
            .all(|c| doc.get_change_by_hash(&c.hash()).is_some())
    {
        return Ok(Ok(None));
    }
    if !role_may_write(who.user.role, kind) {
        return refuse(RefusalReason::Forbidden);
    }
    // A document the user may not see is judged exactly as if its id were free, so the
    // answer never tells whether it exists; only where a free id would be accepted is it
    // refused as forbidden (unavoidable while devices choose ids, and ids are 128-bit random).
    // Whether the user sees it is read off its row: the scope pulls filter on.
    let (mut doc, base, hidden, placed) = match stored {
        Some(stored) => match stored_doc.take().filter(|_| viewer.sees(&stored.scope)) {
            Some(doc) => {
                let placed = stored.parent.map(|parent| (parent, stored.scope));
                (Base::Stored(doc), stored.version, false, placed)
            }
            None => (Base::Stored(AutoCommit::new()), stored.version, true, None),
        },
        // New to the server and pushed as one saved document: that document is the merge.
        None => match pushed_whole {
            Some(loaded) => (Base::Pushed(loaded, &push.changes[0]), 0, false, None),
            None => (Base::Stored(AutoCommit::new()), 0, false, None),
        },
    };
    let outcome = judge(
        lookups,
        who,
        viewer,
        push,
        kind,
        changes,
        &mut doc,
        (base, placed.as_ref()),
    )?;
    if hidden && outcome.is_ok() {
        return refuse(RefusalReason::Forbidden);
    }
    Ok(outcome)
}

/// What the pushed changes are judged against.
enum Base<'a> {
    /// The document as stored (or an empty one): the changes are merged into it.
    Stored(AutoCommit),
    /// No stored document; the push was this one saved document, loaded: it already holds
    /// every pushed change.
    Pushed(AutoCommit, &'a [u8]),
}

/// The rest of [`check_push`]: the pushed changes against the document as stored (or an
/// empty one): actors, merge, validity, scope.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of check_push, passed on"
)]
fn judge(
    lookups: &Lookups<'_>,
    who: &Principal,
    viewer: &Viewer<'_>,
    push: &DocChanges,
    kind: RecordKind,
    changes: Vec<Change>,
    doc: &mut Base<'_>,
    (base, placed): (u64, Option<&(String, DocScope)>),
) -> Result<std::result::Result<Option<DocWrite>, PushOutcome>> {
    let refuse = |reason| Ok(Err(PushOutcome::Refused { reason }));
    let prefix = device_prefix(&who.device_id);
    let (doc, pushed) = match doc {
        Base::Stored(doc) => (doc, None),
        Base::Pushed(doc, raw) => (doc, Some(*raw)),
    };
    let mut new = Vec::new();
    for c in changes {
        if pushed.is_none() && doc.get_change_by_hash(&c.hash()).is_some() {
            continue; // already stored: idempotent, whoever made it
        }
        if prefix.is_none_or(|p| !c.actor_id().to_bytes().starts_with(&p)) {
            return refuse(RefusalReason::ForeignActor);
        }
        new.push(c);
    }
    if new.is_empty() {
        return Ok(Ok(None));
    }
    let writes: Vec<(ChangeHash, Vec<u8>)> = new
        .iter()
        .map(|c| (c.hash(), c.raw_bytes().to_vec()))
        .collect();
    let hazard_before =
        if kind == RecordKind::Hazard && pushed.is_none() && !doc.get_heads().is_empty() {
            hydrate::hydrate::<firegrid_core::hazard::Hazard, _>(&*doc).ok()
        } else {
            None
        };
    if pushed.is_none() && doc.apply_changes(new).is_err() {
        return refuse(RefusalReason::Invalid);
    }
    if !doc.get_missing_deps(&[]).is_empty() {
        return Ok(Err(PushOutcome::Stored { missing_deps: true }));
    }
    // The merged document must be a valid record of its kind; it is read once, and its
    // scope, parent and hazard events are taken from what was read.
    let Ok(record) = Record::read(kind, &*doc) else {
        return refuse(RefusalReason::Invalid);
    };
    let Some(scope) = scope_of_record(lookups, &record, placed)? else {
        return refuse(RefusalReason::Forbidden);
    };
    if !viewer.sees(&scope) {
        return refuse(RefusalReason::Forbidden);
    }
    if let Record::Hazard(after) = &record
        && !check_hazard_events(lookups.storage, who, hazard_before.as_ref(), after, &scope)?
    {
        return refuse(RefusalReason::Forbidden);
    }
    Ok(Ok(Some(DocWrite {
        doc: push.doc.clone(),
        kind,
        scope,
        parent: record.premises().map(str::to_string),
        base,
        changes: writes,
        snapshot: (base == 0).then(|| match pushed {
            Some(raw) => snapshot_of(raw, doc),
            None => doc.save(),
        }),
        // Read from the merged document just above: what the snapshot makes.
        record: if base == 0 { record.encode() } else { None },
    })))
}

/// The closed loop's rules at sync: a hazard's history is append-only (no stored event
/// changed or removed, the premises unchanged), every new event is the pushing user's own
/// (their id, role and scope as the server knows them now) and from the pushing device, and
/// the fold, run here as on every device, does not find it unauthorized (a role not allowed
/// the step, outside the scope, not dispatched to the department, verifying one's own fix).
/// Events that merely lost to a concurrent one are accepted: they stay in the history, flagged.
fn check_hazard_events(
    storage: &dyn SyncStorage,
    who: &Principal,
    before: Option<&firegrid_core::hazard::Hazard>,
    after: &firegrid_core::hazard::Hazard,
    scope: &DocScope,
) -> Result<bool> {
    use firegrid_core::hazard::{FoldContext, HazardEventKind, fold, may};
    let old: HashMap<&str, &firegrid_core::hazard::HazardEvent> = before
        .map(|b| b.events.iter().map(|e| (e.id.as_str(), e)).collect())
        .unwrap_or_default();
    if let Some(b) = before {
        if b.premises != after.premises {
            return Ok(false);
        }
        let kept = b
            .events
            .iter()
            .all(|e| after.events.iter().any(|a| a.id == e.id && a == e));
        if !kept {
            return Ok(false);
        }
    }
    let same_device =
        |d: &str| device_prefix(d).is_some() && device_prefix(d) == device_prefix(&who.device_id);
    let new: Vec<&firegrid_core::hazard::HazardEvent> = after
        .events
        .iter()
        .filter(|e| !old.contains_key(e.id.as_str()))
        .collect();
    for e in &new {
        let own = e.by == who.user.id
            && e.role == Some(who.user.role)
            && e.scope.as_ref() == Some(&who.user.scope)
            && same_device(&e.device);
        if !own || !may(who.user.role, e.kind) {
            return Ok(false);
        }
        if e.kind == HazardEventKind::Discovered && before.is_some() {
            return Ok(false);
        }
    }
    // Which scopes cover the case's place, as the devices judge it.
    let (community, grid) = match scope {
        DocScope::Area { community, grid } => (community.clone(), grid.clone()),
        DocScope::Street => return Ok(false),
    };
    let mut place = Place {
        community,
        grid: grid.unwrap_or_default(),
        stations: Vec::new(),
    };
    for e in &after.events {
        if let Some(s) = e.scope.as_ref().filter(|s| s.kind == ScopeKind::Station)
            && !place.stations.contains(&s.id)
            && storage
                .station_communities(&s.id)?
                .contains(&place.community)
        {
            place.stations.push(s.id.clone());
        }
    }
    let covers = |s: &Scope| place.covered_by(s);
    let state = fold(
        after,
        &FoldContext {
            covers: &covers,
            far_m: f64::MAX,
        },
    );
    Ok(new.iter().all(|e| {
        state
            .flag_of(&e.id)
            .is_none_or(|f| !f.reason.unauthorized())
    }))
}

/// Handles one sync request: every push checked, the accepted ones committed durably, then
/// the visible changes after the cursor (acknowledgements are only built after the commit).
pub fn handle(
    storage: &dyn SyncStorage,
    who: &Principal,
    req: &SyncRequest,
) -> Result<SyncResponse> {
    let epoch = storage.epoch()?;
    let max_seq = storage.max_seq()?;
    if req.epoch.as_deref().is_some_and(|e| e != epoch) || req.cursor > max_seq {
        return Ok(SyncResponse {
            epoch,
            reset: true,
            acks: vec![],
            pulled: vec![],
            cursor: 0,
            more: true,
            records: vec![],
        });
    }
    if req.pushes.len() > MAX_DOCS_PER_REQUEST {
        return Err(Error::invalid(
            "pushes",
            format!("at most {MAX_DOCS_PER_REQUEST} documents per request"),
        ));
    }
    if req.held.len() > MAX_HELD {
        return Err(Error::invalid(
            "held",
            format!("at most {MAX_HELD} held documents per request"),
        ));
    }
    let viewer = Viewer::of(storage, &who.user)?;
    let (acks, own) = check_and_commit(storage, who, &viewer, &req.pushes)?;
    let held: HashSet<[u8; 16]> = req.held.iter().copied().collect();

    let max_bytes = (req.max_pull_bytes as usize).min(MAX_MESSAGE_BYTES - 256 * 1024);
    let visible = |scope: &DocScope| viewer.sees(scope);
    let page = storage.pull(req.cursor, max_bytes, &visible, &own, &held)?;
    Ok(SyncResponse {
        epoch,
        reset: false,
        acks,
        records: records_for(req.record_format, page.records),
        pulled: page.docs,
        cursor: page.cursor,
        more: page.more,
    })
}

/// The stored records a device reading `format` can take: those in that format (records
/// stored by an older server may be in another), none when it reads none (format 0, a
/// version 2 or 3 device), and an empty list when none is left.
fn records_for(format: u32, records: Vec<Option<Vec<u8>>>) -> Vec<Option<Vec<u8>>> {
    if format == 0 {
        return Vec::new();
    }
    let prefix = format.to_le_bytes();
    let kept: Vec<Option<Vec<u8>>> = records
        .into_iter()
        .map(|r| r.filter(|bytes| bytes.starts_with(&prefix)))
        .collect();
    if kept.iter().all(Option::is_none) {
        return Vec::new();
    }
    kept
}

/// Most times a request's pushes are checked again because another request changed one of
/// their documents in between (each round re-reads only the current versions).
const MAX_COMMIT_ATTEMPTS: usize = 16;

/// Pushes checked by one thread before the work is spread over the cores.
const PARALLEL_FROM: usize = 16;

/// Pushed documents read from the store together ([`SyncStorage::load_docs`]): one read
/// transaction (SQLite) or query (PostgreSQL) per batch instead of one per document, while
/// only a batch of stored documents is held in memory at once.
pub const CHECK_BATCH: usize = 64;

/// Checked pushes: what to store, or why not (see [`check_push`]).
type Checked = Vec<std::result::Result<Option<DocWrite>, PushOutcome>>;

/// [`check_push`] for every push, in order; spread over up to four threads when there are
/// many (each push is checked on its own: loading, merging and validating are reads).
fn check_all(
    storage: &dyn SyncStorage,
    who: &Principal,
    viewer: &Viewer<'_>,
    pushes: &[DocChanges],
) -> Result<Checked> {
    let lookups = Lookups::new(storage);
    let check = |part: &[DocChanges]| -> Result<Checked> {
        let mut out = Vec::with_capacity(part.len());
        for batch in part.chunks(CHECK_BATCH) {
            let ids: Vec<&str> = batch.iter().map(|p| p.doc.as_str()).collect();
            let stored = storage.load_docs(&ids)?;
            if stored.len() != ids.len() {
                return Err(Error::Integrity(format!(
                    "{} documents read for {} ids",
                    stored.len(),
                    ids.len()
                )));
            }
            for (push, stored) in batch.iter().zip(stored) {
                out.push(check_push(&lookups, who, viewer, push, stored)?);
            }
        }
        Ok(out)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if pushes.len() < PARALLEL_FROM || threads < 2 {
        return check(pushes);
    }
    let chunk = pushes.len().div_ceil(threads);
    std::thread::scope(|s| {
        let check = &check;
        let handles: Vec<_> = pushes
            .chunks(chunk)
            .map(|part| s.spawn(move || check(part)))
            .collect();
        let mut all = Vec::with_capacity(pushes.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| Error::Integrity("a push check panicked".into()))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// Checks every push against the stored documents and commits the accepted ones in one
/// transaction; when a document changed since its check (another request, maybe on another
/// server instance), checks everything again on the new versions. Returns the per-document
/// outcomes (built only from what was committed) and the pushed changes, to leave out of the
/// pull.
fn check_and_commit(
    storage: &dyn SyncStorage,
    who: &Principal,
    viewer: &Viewer<'_>,
    pushes: &[DocChanges],
) -> Result<(Vec<PushAck>, OwnChanges)> {
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        let mut acks = Vec::with_capacity(pushes.len());
        let mut writes = Vec::new();
        let mut pushed_hashes = HashSet::new();
        for (push, checked) in pushes.iter().zip(check_all(storage, who, viewer, pushes)?) {
            let outcome = match checked {
                Ok(Some(write)) => {
                    pushed_hashes.extend(write.changes.iter().map(|(h, _)| *h));
                    writes.push(write);
                    PushOutcome::Stored {
                        missing_deps: false,
                    }
                }
                Ok(None) => PushOutcome::Stored {
                    missing_deps: false,
                },
                Err(outcome) => outcome,
            };
            acks.push(PushAck {
                doc: push.doc.clone(),
                outcome,
            });
        }
        if writes.is_empty() {
            return Ok((acks, OwnChanges::default()));
        }
        match storage.commit_run(&who.device_id, &writes)? {
            (CommitOutcome::Committed, run) => {
                let own = OwnChanges {
                    hashes: pushed_hashes,
                    run,
                };
                return Ok((acks, own));
            }
            (CommitOutcome::Stale(doc), _) => {
                tracing::debug!(doc = %doc, "a pushed document changed meanwhile; checking again");
            }
        }
    }
    Err(Error::Backend(
        "the pushed documents keep changing under concurrent writes; retry".into(),
    ))
}

fn visible_to(user: &Scope, station_communities: &[String], scope: &DocScope) -> bool {
    let DocScope::Area { community, grid } = scope else {
        return true;
    };
    match user.kind {
        ScopeKind::Street => true,
        // Departments act on premises and their cases anywhere in the street, never on the
        // residents' records (the only area data without a grid).
        ScopeKind::Department => grid.is_some(),
        ScopeKind::Community => *community == user.id,
        ScopeKind::Grid => grid.as_deref() == Some(user.id.as_str()),
        ScopeKind::Station => station_communities.contains(community),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

    use automerge::transaction::Transactable;

    use super::*;

    #[test]
    fn a_whole_document_the_device_holds_at_the_same_heads_is_left_out() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "n", 1).unwrap();
        doc.commit();
        let old_heads = doc.get_heads();
        let old = doc.save();
        doc.put(automerge::ROOT, "n", 2).unwrap();
        doc.commit();
        let new = doc.save();
        let tail = doc.get_last_local_change().unwrap().raw_bytes().to_vec();

        let held: HashSet<[u8; 16]> = [held_digest("d", &old_heads)].into();
        let mut page = PageBuilder::new(0, 1 << 20, &held);
        // Held at these heads: left out, and its later rows too.
        assert!(page.add(1, "d", "premises", (vec![old.clone()], None), true));
        assert!(page.has_whole("d"));
        // The same heads under another id, newer heads, or a snapshot with a tail: sent.
        assert!(page.add(2, "e", "premises", (vec![old.clone()], None), true));
        assert!(page.add(3, "f", "premises", (vec![new], None), true));
        let held_new: HashSet<[u8; 16]> = [held_digest("g", &doc.get_heads())].into();
        let mut other = PageBuilder::new(0, 1 << 20, &held_new);
        assert!(other.add(4, "g", "premises", (vec![old, tail.clone()], None), true));
        // A change (not a whole document) is never left out by what is held.
        assert!(page.add(5, "h", "premises", (vec![tail], None), false));
        let page = page.finish(5);
        let sent: Vec<&str> = page.docs.iter().map(|d| d.doc.as_str()).collect();
        assert_eq!(sent, ["e", "f", "h"]);
        assert_eq!(page.cursor, 5);
        assert_eq!(other.finish(4).docs.len(), 1);
    }

    #[test]
    fn a_record_goes_only_with_a_whole_document_and_only_in_the_devices_format() {
        let none = HashSet::new();
        let mut page = PageBuilder::new(0, 1 << 20, &none);
        let rec = |f: u32| [&f.to_le_bytes()[..], b"body"].concat();
        assert!(page.add(1, "a", "premises", (vec![vec![1]], Some(rec(1))), true));
        // A change row never carries one, and one after a document sent whole drops it.
        assert!(page.add(2, "b", "premises", (vec![vec![2]], Some(rec(1))), false));
        assert!(page.add(3, "c", "premises", (vec![vec![3]], Some(rec(1))), true));
        assert!(page.add(4, "c", "premises", (vec![vec![4]], None), false));
        assert!(page.add(5, "d", "premises", (vec![vec![5]], Some(rec(2))), true));
        let page = page.finish(5);
        assert_eq!(page.records.len(), page.docs.len());
        assert_eq!(page.records, vec![Some(rec(1)), None, None, Some(rec(2))]);
        // The device's format picks the records; format 0 (protocol 2 and 3) takes none.
        assert_eq!(
            records_for(1, page.records.clone()),
            vec![Some(rec(1)), None, None, None]
        );
        assert_eq!(
            records_for(2, page.records.clone()),
            vec![None, None, None, Some(rec(2))]
        );
        assert!(records_for(0, page.records.clone()).is_empty());
        assert!(records_for(3, page.records).is_empty());
    }
}
