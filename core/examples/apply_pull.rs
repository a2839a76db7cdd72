//! Times the device's side of a pull: a fresh store applying every record of another store
//! (the fixture documents it already holds, then N inspections of 16 changes each), in pages
//! the way the server sends them — as changes, then (another fresh store) as whole saved
//! documents, which is what the server sends a fresh device once it has compacted, and (a
//! third) as whole documents with their records (protocol 4) — then 100
//! single-change edits to existing inspections; then the device's side of pushing 100 offline
//! edits of records the server had acknowledged (`Store::sync_request`, median of 9 runs).
//!
//! `cargo run --release -p firegrid-core --example apply_pull -- [N]` (N = 1000 by default).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "example binary: fail loudly"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::store::PendingPush;
use firegrid_core::sync::protocol::{DocChanges, SyncResponse};

const PAGE_BYTES: usize = 3 * 1024 * 1024;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn phone(path: &Path, user: &str) -> Store {
    let store = Store::open(path).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store.set_current_user(user).unwrap();
    store
}

/// Every change of every record of `store` (optionally only those after `since`), in record
/// order, cut into response pages of about `PAGE_BYTES` of changes like the server does.
fn pages(docs: Vec<DocChanges>) -> Vec<SyncResponse> {
    let mut out = Vec::new();
    let mut page: Vec<DocChanges> = Vec::new();
    let mut size = 0usize;
    let mut cursor = 0u64;
    for d in docs {
        for c in d.changes {
            if size > 0 && size + c.len() > PAGE_BYTES {
                out.push(SyncResponse {
                    epoch: "bench".into(),
                    reset: false,
                    acks: vec![],
                    pulled: std::mem::take(&mut page),
                    cursor,
                    more: true,
                    records: vec![],
                });
                size = 0;
            }
            size += c.len() + 8;
            cursor += 1;
            match page.last_mut() {
                Some(last) if last.doc == d.doc => last.changes.push(c),
                _ => page.push(DocChanges {
                    doc: d.doc.clone(),
                    kind: d.kind.clone(),
                    changes: vec![c],
                }),
            }
        }
    }
    out.push(SyncResponse {
        epoch: "bench".into(),
        reset: false,
        acks: vec![],
        pulled: page,
        cursor,
        more: false,
        records: vec![],
    });
    out
}

fn all_changes(store: &Store) -> Vec<DocChanges> {
    store
        .export_records()
        .unwrap()
        .into_iter()
        .map(|(id, kind, bytes)| {
            let mut doc = AutoCommit::load(&bytes).unwrap();
            DocChanges {
                doc: id,
                kind: kind.as_str().to_string(),
                changes: doc
                    .get_changes(&[])
                    .iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect(),
            }
        })
        .collect()
}

/// Applies the pages in order. Not inlined, so that a profiler can cut the run at each call
/// (`valgrind --tool=callgrind --dump-before='apply_pull::apply'
/// --dump-after='apply_pull::apply'` writes one profile per phase, all threads included).
#[inline(never)]
fn apply(store: &Store, pages: &[SyncResponse]) -> (Duration, u64) {
    let t = Instant::now();
    let mut touched = 0;
    for p in pages {
        let r = store
            .apply_sync_response(&PendingPush::default(), p)
            .unwrap();
        assert_eq!(r.quarantined, 0);
        touched += r.touched;
    }
    (t.elapsed(), touched)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let office = district
        .users
        .iter()
        .find(|u| u.role == Role::StreetOffice)
        .unwrap();
    let shops: Vec<_> = district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // Device A's store is kept between runs (creating it takes a while).
    let cached = std::env::temp_dir().join(format!("firegrid-apply-pull-a-{n}.db"));
    if !cached.exists() {
        let building = dir.path().join("building.db");
        let a = phone(&building, &office.id);
        let t = Instant::now();
        for i in 0..n {
            let insp = a
                .start_inspection(&shops[i % shops.len()].id, None)
                .unwrap();
            for item in insp.items.iter().take(15) {
                a.answer(&insp.id, item, AnswerResult::Pass, None).unwrap();
            }
        }
        eprintln!("created {n} inspections on A in {:.2?}", t.elapsed());
        drop(a);
        std::fs::copy(&building, &cached).unwrap();
    }
    let a_path = dir.path().join("a.db");
    std::fs::copy(&cached, &a_path).unwrap();
    let a = phone(&a_path, &office.id);
    let mut ids = Vec::new();
    loop {
        let page = a
            .inspection_history(&firegrid_core::inspection::HistoryFilter {
                limit: Some(5000),
                offset: Some(ids.len() as u32),
                ..Default::default()
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        for s in page {
            let insp = a.inspection(&s.id).unwrap();
            ids.push((insp.id.clone(), insp.items[0].clone()));
        }
    }
    assert_eq!(ids.len(), n);
    ids.sort();

    if std::env::args().any(|a| a == "--micro") {
        micro(&a, &ids[0].0);
        return;
    }
    let docs = all_changes(&a);
    let n_docs = docs.len();
    let n_changes: usize = docs.iter().map(|d| d.changes.len()).sum();
    let fresh_pages = pages(docs);

    let b = phone(&dir.path().join("b.db"), &office.id);
    let b_before: std::collections::HashMap<String, Vec<u8>> = b
        .export_records()
        .unwrap()
        .into_iter()
        .map(|(id, _, d)| (id, d))
        .collect();
    let (fresh, touched) = apply(&b, &fresh_pages);
    for (id, kind, bytes) in a.export_records().unwrap() {
        match b_before.get(&id) {
            Some(old) if *old != bytes => {
                eprintln!("A and B differ before the pull: {kind:?} {id}")
            }
            None if kind != firegrid_core::store::RecordKind::Inspection => {
                eprintln!("only A has {kind:?} {id}")
            }
            _ => {}
        }
    }
    println!(
        "fresh device: {n_docs} documents, {n_changes} changes, {} pages: {:.1} ms (touched {touched})",
        fresh_pages.len(),
        fresh.as_secs_f64() * 1e3
    );
    // The same pull as the server sends it to a fresh device once its compaction has run
    // (protocol 2): every document whole, as one saved document.
    let whole_pages = pages(
        a.export_records()
            .unwrap()
            .into_iter()
            .map(|(id, kind, bytes)| DocChanges {
                doc: id,
                kind: kind.as_str().to_string(),
                changes: vec![bytes],
            })
            .collect(),
    );
    let c = phone(&dir.path().join("c.db"), &office.id);
    let (whole, touched) = apply(&c, &whole_pages);
    println!(
        "fresh device, whole documents: {n_docs} documents, {} pages: {:.1} ms (touched {touched})",
        whole_pages.len(),
        whole.as_secs_f64() * 1e3
    );
    drop(c);
    // The same with the record the server stored with each snapshot (protocol 4): a device new
    // to a record takes it and the saved bytes without loading the document.
    let mut shipped_pages = whole_pages;
    for p in &mut shipped_pages {
        p.records = p
            .pulled
            .iter()
            .map(|d| {
                let kind = d.kind.parse().unwrap();
                let doc = AutoCommit::load(&d.changes[0]).unwrap();
                firegrid_core::hydrate::Record::read_encoded(kind, &doc)
            })
            .collect();
    }
    let shipped_count = shipped_pages
        .iter()
        .flat_map(|p| &p.records)
        .filter(|r| r.is_some())
        .count();
    let e = phone(&dir.path().join("e.db"), &office.id);
    let (taken, touched) = apply(&e, &shipped_pages);
    println!(
        "fresh device, whole documents with {shipped_count} records: {:.1} ms (touched {touched})",
        taken.as_secs_f64() * 1e3
    );
    e.verify().unwrap();
    drop(e);

    // 100 single-change edits on A, pulled by B.
    let before: std::collections::HashMap<String, Vec<u8>> = a
        .export_records()
        .unwrap()
        .into_iter()
        .map(|(id, _, d)| (id, d))
        .collect();
    let step = (ids.len() / 100).max(1);
    let edited: Vec<_> = ids.iter().step_by(step).take(100).cloned().collect();
    for (id, item) in &edited {
        a.answer(id, item, AnswerResult::Fail, Some("复查发现".into()))
            .unwrap();
    }
    let mut edits = Vec::new();
    for (id, _) in &edited {
        let old = AutoCommit::load(&before[id]).unwrap().get_heads();
        let mut doc = AutoCommit::load(&a.document_bytes(id).unwrap()).unwrap();
        edits.push(DocChanges {
            doc: id.clone(),
            kind: "inspection".into(),
            changes: doc
                .get_changes(&old)
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect(),
        });
    }
    let edit_pages = pages(edits);
    let (edit_t, touched) = apply(&b, &edit_pages);
    assert_eq!(touched as usize, edited.len());
    println!(
        "100 pulled edits: {:.1} ms ({:.2} ms per document)",
        edit_t.as_secs_f64() * 1e3,
        edit_t.as_secs_f64() * 1e3 / edited.len() as f64
    );

    // Repeating the fresh pull (everything already present) costs only the checks.
    let (again, touched) = apply(&b, &fresh_pages);
    println!(
        "same pull again (all present): {:.1} ms (touched {touched})",
        again.as_secs_f64() * 1e3
    );

    let t = Instant::now();
    b.verify().unwrap();
    println!("verify B: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    for (id, _) in &edited {
        assert_eq!(a.inspection(id).unwrap(), b.inspection(id).unwrap());
    }
    push_edits(&b, &dir.path().join("b.db"), &edited);
}

/// Acknowledges everything `store` would push (as a server that stored it all), then makes one
/// offline edit to each of `edited` and times building the request that pushes them: from the
/// push outbox, then (its basis cleared in the file, as for records changed before schema 5)
/// by loading each document, the way every push was built before the outbox.
fn push_edits(store: &Store, path: &Path, edited: &[(String, String)]) {
    use firegrid_core::sync::protocol::{PushAck, PushOutcome};
    loop {
        let (req, pending) = store.sync_request(PAGE_BYTES as u32).unwrap();
        if req.pushes.is_empty() {
            break;
        }
        let acks = req
            .pushes
            .iter()
            .map(|p| PushAck {
                doc: p.doc.clone(),
                outcome: PushOutcome::Stored {
                    missing_deps: false,
                },
            })
            .collect();
        let resp = SyncResponse {
            epoch: "bench".into(),
            reset: false,
            acks,
            pulled: vec![],
            cursor: req.cursor,
            more: false,
            records: vec![],
        };
        store.apply_sync_response(&pending, &resp).unwrap();
    }
    for (id, item) in edited {
        store
            .answer(id, item, AnswerResult::Pass, Some("整改后复查".into()))
            .unwrap();
    }
    // What a local write now adds: the changes after the stored heads, one new change here.
    {
        use automerge::transaction::Transactable;
        let mut doc = AutoCommit::load(&store.document_bytes(&edited[0].0).unwrap()).unwrap();
        let old = doc.get_heads();
        doc.put(automerge::ROOT, "bench", 1).unwrap();
        doc.commit();
        const RUNS: u32 = 1000;
        let t = Instant::now();
        for _ in 0..RUNS {
            assert_eq!(doc.get_changes(&old).len(), 1);
        }
        println!(
            "get_changes after the stored heads (one new change): {:.1} us",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(RUNS)
        );
    }
    let outbox = time_request(store, edited.len(), "from the outbox");
    rusqlite::Connection::open(path)
        .unwrap()
        .execute("UPDATE record SET outbox_from = NULL", [])
        .unwrap();
    let loaded = time_request(store, edited.len(), "loading each document");
    assert_eq!(outbox, loaded, "both ways push the same changes");
}

/// Times `sync_request` (median of 9) and returns what it pushed.
fn time_request(store: &Store, docs: usize, how: &str) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut times = Vec::new();
    let mut pushed = Vec::new();
    let mut changes = 0;
    for _ in 0..9 {
        let t = Instant::now();
        let (req, pending) = store.sync_request(PAGE_BYTES as u32).unwrap();
        times.push(t.elapsed());
        changes = pending.changes;
        pushed = req.pushes.into_iter().map(|p| (p.doc, p.changes)).collect();
    }
    assert_eq!(pushed.len(), docs);
    times.sort();
    println!(
        "sync_request for {docs} offline edits ({changes} changes), {how}: {:.2} ms (median of 9; min {:.2}, max {:.2})",
        times[4].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[8].as_secs_f64() * 1e3,
    );
    pushed.sort();
    pushed
}

/// Per-step costs of applying one inspection's 16 changes (averaged over many runs).
fn micro(a: &Store, id: &str) {
    use automerge::{Change, ReadDoc};
    use firegrid_core::inspection::Inspection;
    const RUNS: u32 = 500;
    let saved = a.document_bytes(id).unwrap();
    let mut doc = AutoCommit::load(&saved).unwrap();
    let raw: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let concat = raw.concat();
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..RUNS {
            f();
        }
        println!(
            "{name}: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(RUNS)
        );
    };
    println!(
        "one inspection: {} bytes saved, {} changes",
        saved.len(),
        raw.len()
    );
    time("load saved", &mut || {
        AutoCommit::load(&saved).unwrap();
    });
    time(
        "load saved + get_changes(&[]) (the server's check of a whole push)",
        &mut || {
            let mut d = AutoCommit::load(&saved).unwrap();
            let _ = d.get_changes(&[]);
        },
    );
    time("load saved + get_changes_meta(&[])", &mut || {
        let mut d = AutoCommit::load(&saved).unwrap();
        let _ = d.get_changes_meta(&[]);
    });
    time("parse changes", &mut || {
        for r in &raw {
            Change::try_from(r.as_slice()).unwrap();
        }
    });
    time("parse + apply_changes to new", &mut || {
        let mut d = AutoCommit::new();
        d.apply_changes(raw.iter().map(|r| Change::try_from(r.as_slice()).unwrap()))
            .unwrap();
    });
    time("load(concatenated changes)", &mut || {
        AutoCommit::load(&concat).unwrap();
    });
    time("new + load_incremental(concat)", &mut || {
        let mut d = AutoCommit::new();
        d.load_incremental(&concat).unwrap();
    });
    time("save", &mut || {
        let mut d = doc.clone();
        d.save();
    });
    time("clone (baseline for save)", &mut || {
        let _ = doc.clone();
    });
    time("autosurgeon::hydrate::<Inspection>", &mut || {
        let _: Inspection = autosurgeon::hydrate(&doc).unwrap();
    });
    time(
        "firegrid_core::hydrate::hydrate::<Inspection> (direct walk)",
        &mut || {
            let _: Inspection = firegrid_core::hydrate::hydrate(&doc).unwrap();
        },
    );
    time("doc.hydrate(ROOT, None)", &mut || {
        let _ = doc.hydrate(automerge::ROOT, None).unwrap();
    });
    fn walk(doc: &AutoCommit, obj: &automerge::ObjId, ty: automerge::ObjType) -> usize {
        let mut n = 0;
        match ty {
            automerge::ObjType::Map | automerge::ObjType::Table => {
                for item in doc.map_range(obj, ..) {
                    n += 1;
                    if let automerge::ValueRef::Object(t) = item.value {
                        n += walk(doc, &item.id(), t);
                    }
                }
            }
            automerge::ObjType::List => {
                for item in doc.list_range(obj, ..) {
                    n += 1;
                    if let automerge::ValueRef::Object(t) = item.value {
                        n += walk(doc, &item.id(), t);
                    }
                }
            }
            automerge::ObjType::Text => {}
        }
        n
    }
    time("walk with map_range/list_range", &mut || {
        walk(&doc, &automerge::ROOT, automerge::ObjType::Map);
    });
    time("get_heads", &mut || {
        let _ = doc.get_heads();
    });
    let mut d = AutoCommit::new();
    d.apply_changes(raw.iter().map(|r| Change::try_from(r.as_slice()).unwrap()))
        .unwrap();
    let mut d2 = AutoCommit::load(&concat).unwrap();
    assert_eq!(d.save(), d2.save());
    assert_eq!(d.save(), doc.save());
}
