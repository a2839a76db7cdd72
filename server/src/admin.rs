//! Admin tasks on the server's data folder: users (create with a password from stdin, disable,
//! enable), devices (revoke), and seeding the sample street with its sample accounts.

use std::path::Path;
use std::sync::Arc;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use firegrid_core::access::{Role, Scope, ScopeKind, User};
use firegrid_core::store::RecordKind;
use firegrid_core::vocab::{now_ms, validate_id};
use firegrid_core::{Error, Store};

use crate::auth::Accounts;
use crate::sync::sqlite::SqliteStorage;
use crate::sync::{DocScope, DocWrite, SyncStorage};

/// The password every sample user gets with `serve --seed-sample` (demo data only).
pub const SAMPLE_PASSWORD: &str = "zhenru-sample";

/// The server's two databases in a data folder.
#[derive(Debug)]
pub struct DataDir {
    /// Sync data.
    pub storage: Arc<SqliteStorage>,
    /// Accounts.
    pub accounts: Arc<Accounts>,
}

/// Opens (creating) `sync.db` and `accounts.db` in `dir`.
pub fn open(dir: &Path) -> Result<DataDir, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let storage = SqliteStorage::open(&dir.join("sync.db")).map_err(|e| e.to_string())?;
    let accounts = Accounts::open(&dir.join("accounts.db")).map_err(|e| e.to_string())?;
    Ok(DataDir {
        storage: Arc::new(storage),
        accounts: Arc::new(accounts),
    })
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
        for (id, kind, bytes) in &records {
            data.storage
                .seed_document(id, *kind, bytes)
                .map_err(|e| e.to_string())?;
        }
        seeded = records.len();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(seeded)
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
    let mut doc = match data.storage.load_doc(id).map_err(|e| e.to_string())? {
        Some(stored) if stored.kind != RecordKind::User => {
            return Err(format!("{id} is not a user"));
        }
        Some(stored) => AutoCommit::load(&stored.bytes).map_err(|e| e.to_string())?,
        None => AutoCommit::new(),
    };
    // The server's own actor for admin edits: 8 zero bytes, then 8 random ones.
    let mut actor = [0u8; 16];
    actor[8..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
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
    data.storage
        .commit(
            "admin",
            &[DocWrite {
                doc: id.to_string(),
                kind: RecordKind::User,
                scope: DocScope::Street,
                changes,
            }],
        )
        .map_err(|e| e.to_string())?;
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
        let user: User = autosurgeon::hydrate(&AutoCommit::load(&stored.bytes).unwrap()).unwrap();
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
        let user: User = autosurgeon::hydrate(&AutoCommit::load(&stored.bytes).unwrap()).unwrap();
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
