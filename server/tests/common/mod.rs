//! Helpers shared by the server's tests: the fixtures folder, a seeded random generator (a
//! failing run replays), a router served on a free port of 127.0.0.1, and a seeded in-memory
//! server with a device file that synced with it once (the sans-I/O tests copy both).
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a part of the helpers"
)]

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// splitmix64: a seeded generator, so a failing run replays.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Serves `router` on a free port of 127.0.0.1 from a background thread with its own runtime;
/// returns the base URL once the port is bound.
pub fn serve(router: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
            axum::serve(listener, router).await.expect("serving");
        });
    });
    base
}

/// A phone of `user`: a store at `path` with the fixtures imported, the user signed in on it
/// and logged in on the server with `password`. Returns the store and its access token.
pub fn phone(
    client: &firegrid_core::sync::http::HttpClient,
    path: &Path,
    user: &str,
    password: &str,
) -> (firegrid_core::Store, String) {
    let store = firegrid_core::Store::open(path).expect("the store opens");
    store
        .import_fixtures(&fixtures())
        .expect("the fixtures import");
    store.set_current_user(user).expect("the user signs in");
    let token = client
        .login(user, password, store.device_id())
        .expect("the login")
        .session
        .access_token;
    (store, token)
}

/// An in-memory server seeded from the fixtures, and a device store that synced with it once
/// as the street office, without a device id (each copy makes its own).
pub struct Template {
    _dir: tempfile::TempDir,
    /// The device file to copy.
    pub db: PathBuf,
    /// The sample district.
    pub district: firegrid_core::district::District,
    /// The server (tests take `fork()`s of it).
    pub server: firegrid_server::sync::memory::MemoryStorage,
}

/// The [`Template`], built once per test binary.
pub fn template() -> &'static Template {
    use firegrid_core::access::Role;
    use firegrid_core::store::RecordKind;
    use firegrid_core::sync::protocol::SyncRequest;
    use firegrid_server::sync::{Principal, handle};
    static T: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("template.db");
        let store = firegrid_core::Store::open(&db).expect("the store opens");
        store
            .import_fixtures(&fixtures())
            .expect("the fixtures import");
        let mut records = store.export_records().expect("the records export");
        // Premises first: inspections and hazards take their scope from them.
        records.sort_by_key(|(_, k, _)| *k != RecordKind::Premises);
        let server = firegrid_server::sync::memory::MemoryStorage::new();
        for (id, kind, bytes) in &records {
            server
                .seed_document(id, *kind, bytes)
                .expect("the server seeds");
        }
        let district = firegrid_core::district::load_dir(&fixtures().join("district"))
            .expect("the district loads");
        let who = Principal {
            user: district
                .users
                .iter()
                .find(|u| u.role == Role::StreetOffice)
                .expect("an office user")
                .clone(),
            device_id: store.device_id().to_string(),
        };
        let mut transport =
            |bytes: Vec<u8>| handle(&server, &who, &SyncRequest::decode(&bytes)?)?.encode();
        store
            .sync_via(&mut transport, &mut |_| {})
            .expect("the first sync");
        drop(store);
        let c = rusqlite::Connection::open(&db).expect("the file opens");
        c.execute_batch(
            "DELETE FROM meta WHERE key = 'device_id'; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .expect("the device id is removed");
        drop(c);
        Template {
            _dir: dir,
            db,
            district,
            server,
        }
    })
}

/// A device for the sans-I/O tests: a copy of a template device file, opened as `user`, and
/// who it is to the server.
pub struct Device {
    /// Holds the copy (deleted with it).
    pub _dir: tempfile::TempDir,
    /// The store file.
    pub path: PathBuf,
    /// The store.
    pub store: firegrid_core::Store,
    /// Who it is to the server: `user` on this device.
    pub who: firegrid_server::sync::Principal,
}

/// A [`Device`]: a copy of the device file `template_db`, opened with `user` signed in.
pub fn device_from(template_db: &Path, user: &firegrid_core::access::User) -> Device {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("device.db");
    std::fs::copy(template_db, &path).expect("the template copies");
    let store = firegrid_core::Store::open(&path).expect("the store opens");
    store.set_current_user(&user.id).expect("the user signs in");
    let who = firegrid_server::sync::Principal {
        user: user.clone(),
        device_id: store.device_id().to_string(),
    };
    Device {
        _dir: dir,
        path,
        store,
        who,
    }
}

/// Protocol 4 on a store: a new document's record, written with its snapshot, is pulled with
/// it while the snapshot is the whole document; a change after it leaves it out (the record
/// would be short of it) until the compaction stores a new snapshot and record; a change row
/// pulled after the cursor and a document the device holds never carry one. Returns the
/// pages, so several stores can be compared.
pub fn records_travel_with_snapshots(
    storage: &dyn firegrid_server::sync::SyncStorage,
) -> Vec<firegrid_server::sync::PullPage> {
    use automerge::AutoCommit;
    use firegrid_core::hydrate::Record;
    use firegrid_core::store::RecordKind;
    use firegrid_server::sync::{CommitOutcome, DocScope, DocWrite, OwnChanges, compact};
    use std::collections::HashSet;

    let dir = tempfile::tempdir().unwrap();
    let source = firegrid_core::Store::open(dir.path().join("records.db")).unwrap();
    source.import_fixtures(&fixtures()).unwrap();
    let (id, _, bytes) = source
        .export_records()
        .unwrap()
        .into_iter()
        .find(|(_, k, _)| *k == RecordKind::Premises)
        .unwrap();
    let mut doc = AutoCommit::load(&bytes).unwrap();
    let scope = DocScope::Area {
        community: "c1".into(),
        grid: Some("g1".into()),
    };
    let write = |doc: &mut AutoCommit, from: &[automerge::ChangeHash], base: u64| DocWrite {
        doc: id.clone(),
        kind: RecordKind::Premises,
        scope: scope.clone(),
        parent: None,
        base,
        changes: doc
            .get_changes(from)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect(),
        snapshot: (base == 0).then(|| doc.save()),
        record: (base == 0)
            .then(|| Record::read_encoded(RecordKind::Premises, &*doc))
            .flatten(),
    };
    let first = write(&mut doc, &[], 0);
    let encoded = first.record.clone().expect("a premises travels");
    assert_eq!(
        storage.commit("dev", &[first]).unwrap(),
        CommitOutcome::Committed
    );
    let none = OwnChanges::default();
    let all = HashSet::new();
    let pull = |cursor| {
        storage
            .pull(cursor, 1 << 20, &|_| true, &none, &all)
            .unwrap()
    };
    let mut pages = Vec::new();

    // New: the snapshot alone, with its record.
    let page = pull(0);
    assert_eq!(page.docs.len(), 1);
    assert_eq!(page.docs[0].changes, vec![bytes]);
    assert_eq!(page.records, vec![Some(encoded)]);
    let created = page.cursor;
    pages.push(page);

    // A change after the snapshot: sent whole without a record; its row alone, without one.
    let heads = doc.get_heads();
    let mut edited = source.premises(&id).unwrap();
    edited.name = "改名 renamed".into();
    // A fixed actor and time, so every store gets the same change bytes (pages compare).
    doc.set_actor(automerge::ActorId::from([7u8; 16]));
    autosurgeon::reconcile(&mut doc, &edited).unwrap();
    doc.commit_with(automerge::transaction::CommitOptions::default().with_time(0));
    let base = storage.load_doc(&id).unwrap().unwrap().version;
    assert_eq!(
        storage
            .commit("dev", &[write(&mut doc, &heads, base)])
            .unwrap(),
        CommitOutcome::Committed
    );
    let page = pull(0);
    assert_eq!(page.docs[0].changes.len(), 2);
    assert_eq!(page.records, vec![None]);
    pages.push(page);
    let page = pull(created);
    assert_eq!(page.docs[0].changes.len(), 1);
    assert_eq!(page.records, vec![None]);
    pages.push(page);

    // Compacted: the new snapshot alone again, with the record it makes.
    compact::compact_all(storage).unwrap();
    let page = pull(0);
    assert_eq!(page.docs[0].changes.len(), 1);
    let shipped = page.records[0]
        .as_deref()
        .expect("a record after compaction");
    match Record::decode(RecordKind::Premises, shipped) {
        Some(Record::Premises(p)) => assert_eq!(p, edited),
        other => panic!("{other:?}"),
    }
    pages.push(page);

    // Held by the device at these heads: left out, record and all.
    let held: HashSet<[u8; 16]> = [firegrid_core::sync::protocol::held_digest(
        &id,
        &doc.get_heads(),
    )]
    .into();
    let page = storage.pull(0, 1 << 20, &|_| true, &none, &held).unwrap();
    assert!(page.docs.is_empty() && page.records.is_empty());
    pages.push(page);
    pages
}
