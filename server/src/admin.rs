//! Admin tasks on the server's data folder: users (create with a password from stdin, disable,
//! enable), devices (revoke), seeding the sample street with its sample accounts, and
//! exporting the hazard ledger as the whole street.

use std::path::Path;
use std::sync::Arc;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use firegrid_core::access::{Role, Scope, ScopeKind, User};
use firegrid_core::store::RecordKind;
use firegrid_core::vocab::{now_ms, validate_id};
use firegrid_core::{Error, Store};

use crate::auth::Accounts;
use crate::pg::PgPool;
use crate::sync::postgres::PgStorage;
use crate::sync::sqlite::SqliteStorage;
use crate::sync::{CommitOutcome, DocScope, DocWrite, SyncStorage};

/// The password every sample user gets with `serve --seed-sample` (demo data only).
pub const SAMPLE_PASSWORD: &str = "zhenru-sample";

/// The server's data: the sync store and the accounts, both in embedded SQLite files of a
/// data folder or both in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// Sync data.
    pub storage: Arc<dyn SyncStorage>,
    /// Accounts.
    pub accounts: Arc<Accounts>,
    /// Evidence-photo blobs (bytes under `<data dir>/blobs`); `None` when opened without a
    /// data folder ([`open_pool`]).
    pub blobs: Option<Arc<crate::blobs::BlobStore>>,
}

/// Opens (creating) `sync.db` and `accounts.db` in `dir`.
pub fn open(dir: &Path) -> Result<DataDir, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let storage = SqliteStorage::open(&dir.join("sync.db")).map_err(|e| e.to_string())?;
    let accounts = Accounts::open(&dir.join("accounts.db")).map_err(|e| e.to_string())?;
    let blobs = crate::blobs::BlobStore::open_sqlite(&dir.join("blobs"), storage.path())
        .map_err(|e| e.to_string())?;
    Ok(DataDir {
        storage: Arc::new(storage),
        accounts: Arc::new(accounts),
        blobs: Some(Arc::new(blobs)),
    })
}

/// Opens the sync store and the accounts in the PostgreSQL database at `url`
/// (`postgres://user@host:port/db`), creating or migrating their tables.
pub fn open_postgres(url: &str) -> Result<DataDir, String> {
    let pool = Arc::new(PgPool::connect(url, crate::pg::DEFAULT_POOL_SIZE)?);
    open_pool(pool)
}

/// Opens the sync store and the accounts on a PostgreSQL pool.
pub fn open_pool(pool: Arc<PgPool>) -> Result<DataDir, String> {
    let storage = PgStorage::open(pool.clone()).map_err(|e| e.to_string())?;
    let accounts = Accounts::open_postgres(pool).map_err(|e| e.to_string())?;
    Ok(DataDir {
        storage: Arc::new(storage),
        accounts: Arc::new(accounts),
        blobs: None,
    })
}

/// `--db URL` when given (PostgreSQL), else the SQLite files in `dir`.
pub fn open_db(dir: &Path, db: Option<&str>) -> Result<DataDir, String> {
    match db {
        None => open(dir),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            // The blob bytes stay in `dir`, which every instance must share (crate::blobs).
            let pool = Arc::new(PgPool::connect(url, crate::pg::DEFAULT_POOL_SIZE)?);
            let mut data = open_pool(pool.clone())?;
            let blobs = crate::blobs::BlobStore::open_postgres(&dir.join("blobs"), pool)
                .map_err(|e| e.to_string())?;
            data.blobs = Some(Arc::new(blobs));
            Ok(data)
        }
        Some(_) => Err(
            "--db takes a postgres:// URL; leave it out to use SQLite files in --data-dir".into(),
        ),
    }
}

/// Parses `grid:grid.01.1`, `community:com.01`, `station:sta.01`, `department:dept.x`,
/// `street:street.zhenru`.
pub fn parse_scope(text: &str) -> Result<Scope, String> {
    let (kind, id) = text
        .split_once(':')
        .ok_or("a scope is KIND:ID, e.g. grid:grid.01.1")?;
    let kind: ScopeKind = kind.parse().map_err(|e: Error| e.to_string())?;
    validate_id("scope id", id).map_err(|e| e.to_string())?;
    Ok(Scope::new(kind, id))
}

/// Seeds the sample street from `fixtures` (when the store is empty) and gives every sample
/// user without an account the sample password. Returns how many documents were seeded.
pub fn seed_sample(data: &DataDir, fixtures: &Path) -> Result<usize, String> {
    let seeded = seed_documents(data, fixtures)?;
    let district =
        firegrid_core::district::load_dir(&fixtures.join("district")).map_err(|e| e.to_string())?;
    for u in &district.users {
        if !data
            .accounts
            .has_account(&u.id)
            .map_err(|e| e.to_string())?
        {
            data.accounts
                .set_password(&u.id, SAMPLE_PASSWORD, now_ms())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(seeded)
}

/// Loads the fixture documents into an empty server (the same bytes the devices import).
pub fn seed_documents(data: &DataDir, fixtures: &Path) -> Result<usize, String> {
    let mut seeded = 0;
    if data.storage.max_seq().map_err(|e| e.to_string())? == 0 {
        let dir = tempfile_dir()?;
        let store = Store::open(dir.join("seed.db")).map_err(|e| e.to_string())?;
        store.import_fixtures(fixtures).map_err(|e| e.to_string())?;
        let mut records = store.export_records().map_err(|e| e.to_string())?;
        records.sort_by_key(|(_, k, _)| *k != RecordKind::Premises);
        // Premises first: inspections and hazards take their scope from them.
        let split = records.partition_point(|(_, k, _)| *k == RecordKind::Premises);
        for part in [&records[..split], &records[split..]] {
            for batch in part.chunks(SEED_BATCH) {
                seed_batch(data.storage.as_ref(), batch).map_err(|e| e.to_string())?;
            }
        }
        crate::sync::compact::compact_all(data.storage.as_ref()).map_err(|e| e.to_string())?;
        seeded = records.len();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(seeded)
}

/// Documents stored per seeding transaction.
const SEED_BATCH: usize = 256;

/// Seeds new documents in one commit; if another server instance seeds at the same moment
/// (a stale commit), one by one instead, skipping what is already stored.
fn seed_batch(
    storage: &dyn SyncStorage,
    records: &[(String, RecordKind, Vec<u8>)],
) -> firegrid_core::Result<()> {
    let mut writes = Vec::with_capacity(records.len());
    for (id, kind, bytes) in records {
        let mut doc = AutoCommit::load(bytes).map_err(|e| Error::corrupt(id, e))?;
        let scope = crate::sync::scope_of(storage, *kind, &doc)?.unwrap_or(DocScope::Street);
        let snapshot = crate::sync::snapshot_of(bytes, &mut doc);
        let changes = doc
            .get_changes(&[])
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        writes.push(DocWrite {
            doc: id.clone(),
            kind: *kind,
            scope,
            parent: crate::sync::parent_of(*kind, &doc),
            base: 0,
            changes,
            snapshot: Some(snapshot),
            record: firegrid_core::hydrate::Record::read_encoded(*kind, &doc),
        });
    }
    if storage.commit("seed", &writes)? == CommitOutcome::Committed {
        return Ok(());
    }
    for (id, kind, bytes) in records {
        crate::sync::seed_document(storage, id, *kind, bytes)?;
    }
    Ok(())
}

/// Exports the hazard ledger (see [`crate::ledger`]) as the whole street would see it, into
/// `out` (written to a temporary file beside it, then renamed: never half a file). Returns
/// what was exported.
pub fn export_ledger(
    data: &DataDir,
    query: &crate::ledger::LedgerQuery,
    format: crate::ledger::Format,
    out: &Path,
) -> Result<crate::ledger::Export, String> {
    let storage = data.storage.as_ref();
    let street = storage
        .list_docs(RecordKind::Street)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .map_or_else(|| "street".to_string(), |(id, _)| id);
    let viewer = User {
        id: "firegrid-server".into(),
        name: "firegrid-server ledger".into(),
        role: Role::Admin,
        scope: Scope::new(ScopeKind::Street, street),
    };
    let export = crate::ledger::export(storage, &viewer, query, format, now_ms())
        .map_err(|e| e.to_string())?;
    let name = out
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", out.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let tmp = out.with_file_name(tmp_name);
    std::fs::write(&tmp, &export.bytes)
        .and_then(|()| std::fs::rename(&tmp, out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", out.display())
        })?;
    Ok(export)
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("firegrid-seed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Creates a user (record and account), or updates an existing one's role, scope and password.
pub fn add_user(
    data: &DataDir,
    id: &str,
    name: &str,
    role: Role,
    scope: Scope,
    password: &str,
) -> Result<(), String> {
    validate_id("user id", id).map_err(|e| e.to_string())?;
    if name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if password.chars().count() < crate::auth::MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password needs at least {} characters",
            crate::auth::MIN_PASSWORD_CHARS
        ));
    }
    let user = User {
        id: id.to_string(),
        name: name.to_string(),
        role,
        scope,
    };
    // The server's own actor for admin edits: 8 zero bytes, then 8 random ones.
    let mut actor = [0u8; 16];
    actor[8..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    let mut committed = false;
    for _ in 0..16 {
        let (mut doc, base) = match data.storage.load_doc(id).map_err(|e| e.to_string())? {
            Some(stored) if stored.kind != RecordKind::User => {
                return Err(format!("{id} is not a user"));
            }
            Some(stored) => (
                stored.to_automerge(id).map_err(|e| e.to_string())?,
                stored.version,
            ),
            None => (AutoCommit::new(), 0),
        };
        doc.set_actor(ActorId::from(actor));
        let heads = doc.get_heads();
        autosurgeon::reconcile(&mut doc, &user).map_err(|e| e.to_string())?;
        doc.commit_with(
            CommitOptions::default()
                .with_message("user add")
                .with_time(now_ms()),
        );
        let changes = doc
            .get_changes(&heads)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        let write = DocWrite {
            doc: id.to_string(),
            kind: RecordKind::User,
            scope: DocScope::Street,
            parent: None,
            base,
            changes,
            snapshot: (base == 0).then(|| doc.save()),
            record: None, // users do not travel as encoded records
        };
        let outcome = data
            .storage
            .commit("admin", &[write])
            .map_err(|e| e.to_string())?;
        if outcome == CommitOutcome::Committed {
            committed = true;
            break;
        }
    }
    if !committed {
        return Err(format!("{id} keeps changing; try again"));
    }
    data.accounts
        .set_password(id, password, now_ms())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_users_are_added_with_a_record_and_an_account() {
        assert_eq!(
            parse_scope("grid:grid.01.1").unwrap(),
            Scope::new(ScopeKind::Grid, "grid.01.1")
        );
        assert!(parse_scope("grid").is_err());
        assert!(parse_scope("planet:earth").is_err());
        assert!(parse_scope("grid:bad id").is_err());

        let dir = tempfile::tempdir().unwrap();
        let data = open(dir.path()).unwrap();
        let scope = Scope::new(ScopeKind::Grid, "grid.01.1");
        add_user(
            &data,
            "u.new",
            "新网格员",
            Role::GridPatroller,
            scope.clone(),
            "a long enough password",
        )
        .unwrap();
        let stored = data.storage.load_doc("u.new").unwrap().unwrap();
        assert_eq!(stored.kind, RecordKind::User);
        let user: User = autosurgeon::hydrate(&stored.to_automerge("u.new").unwrap()).unwrap();
        assert_eq!((user.role, user.scope), (Role::GridPatroller, scope));
        let device = uuid::Uuid::new_v4().simple().to_string();
        assert!(
            data.accounts
                .login("u.new", "a long enough password", &device, 1)
                .is_ok()
        );
        // Changing the role keeps one record.
        add_user(
            &data,
            "u.new",
            "新网格员",
            Role::StreetOffice,
            Scope::new(ScopeKind::Street, "street.zhenru"),
            "another long password",
        )
        .unwrap();
        let stored = data.storage.load_doc("u.new").unwrap().unwrap();
        let user: User = autosurgeon::hydrate(&stored.to_automerge("u.new").unwrap()).unwrap();
        assert_eq!(user.role, Role::StreetOffice);
        assert!(
            add_user(
                &data,
                "bad id",
                "x",
                Role::Admin,
                Scope::new(ScopeKind::Street, "s"),
                "a long enough password"
            )
            .is_err()
        );
        assert!(
            add_user(
                &data,
                "u.short",
                "x",
                Role::Admin,
                Scope::new(ScopeKind::Street, "s"),
                "short"
            )
            .is_err()
        );
        assert!(
            data.storage.load_doc("u.short").unwrap().is_none(),
            "nothing is written for a refused user"
        );
    }
}
