//! Snapshots of the stored formats: a change to what a record document looks like must fail
//! here on purpose (then bump the document schema and write a migration). Set
//! `FIREGRID_UPDATE_SNAPSHOTS=1` to rewrite the snapshot files after a deliberate change.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::path::PathBuf;

use automerge::ReadDoc;
use common::*;
use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("FIREGRID_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("missing snapshot {name}; run with FIREGRID_UPDATE_SNAPSHOTS=1")
    });
    assert!(
        expected == actual,
        "stored format changed ({name}); if deliberate, bump the schema and rerun with FIREGRID_UPDATE_SNAPSHOTS=1\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// Every key path of a document with the type of its value (values themselves vary).
fn shape(doc: &automerge::AutoCommit, obj: &automerge::ObjId, prefix: &str, out: &mut Vec<String>) {
    for key in doc.keys(obj) {
        let path = format!("{prefix}.{key}");
        describe(
            doc,
            doc.get(obj, key.as_str()).unwrap().unwrap(),
            &path,
            out,
        );
    }
}

fn describe(
    doc: &automerge::AutoCommit,
    v: (automerge::Value<'_>, automerge::ObjId),
    path: &str,
    out: &mut Vec<String>,
) {
    match v {
        (automerge::Value::Object(automerge::ObjType::Map), id) => {
            out.push(format!("{path}: map"));
            shape(doc, &id, path, out);
        }
        (automerge::Value::Object(automerge::ObjType::List), id) => {
            out.push(format!("{path}: list"));
            if let Some(first) = doc.get(&id, 0).unwrap() {
                describe(doc, first, &format!("{path}[]"), out);
            }
        }
        (automerge::Value::Object(t), _) => out.push(format!("{path}: {t:?}")),
        (automerge::Value::Scalar(s), _) => {
            let t = match s.as_ref() {
                automerge::ScalarValue::Str(_) => "str",
                automerge::ScalarValue::Int(_) => "int",
                automerge::ScalarValue::Uint(_) => "uint",
                automerge::ScalarValue::F64(_) => "f64",
                automerge::ScalarValue::Boolean(_) => "bool",
                automerge::ScalarValue::Null => "null",
                _ => "other",
            };
            out.push(format!("{path}: {t}"));
        }
    }
}

fn doc_bytes(store_path: &std::path::Path, id: &str) -> Vec<u8> {
    let c = rusqlite::Connection::open(store_path).unwrap();
    c.query_row("SELECT doc FROM record WHERE id = ?1", [id], |r| r.get(0))
        .unwrap()
}

#[test]
fn fixture_premises_document_bytes_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let mut d = loaded().district.clone();
    d.premises.truncate(1);
    d.key_residents.clear();
    store.import_district(&d).unwrap();
    let bytes = doc_bytes(store.path(), &d.premises[0].id);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    snapshot("premises.doc.hex", &format!("{hex}\n"));
}

#[test]
fn inspection_and_hazard_document_shapes_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    let shop = loaded()
        .district
        .premises
        .iter()
        .find(|p| p.category() == firegrid_core::premises::Category::StreetShop)
        .unwrap();
    let insp = store
        .start_inspection(
            &shop.id,
            Some(firegrid_core::vocab::GeoPoint {
                lat: 31.25,
                lon: 121.4,
                accuracy_m: Some(8.0),
            }),
        )
        .unwrap();
    for item in &insp.items {
        store
            .answer(&insp.id, item, AnswerResult::Pass, None)
            .unwrap();
    }
    let item = &insp.items[0];
    store
        .answer(&insp.id, item, AnswerResult::Fail, Some("n".into()))
        .unwrap();
    store.attach_photo(&insp.id, item, photo(1)).unwrap();
    let report = store.finish_inspection(&insp.id, None).unwrap();

    let mut out = Vec::new();
    for (kind, id) in [
        ("inspection", insp.id.as_str()),
        ("hazard", report.hazards[0].as_str()),
    ] {
        let doc = automerge::AutoCommit::load(&doc_bytes(store.path(), id)).unwrap();
        out.push(format!("# {kind}"));
        let mut lines = Vec::new();
        shape(&doc, &automerge::ROOT, "", &mut lines);
        // Answers are keyed by item id: every item shows as `<item>`.
        let mut lines: Vec<String> = lines
            .into_iter()
            .map(|l| mask_answer_key(&l, &insp.items))
            .collect();
        lines.sort();
        lines.dedup();
        out.extend(lines);
    }
    snapshot("inspection_hazard.shape", &(out.join("\n") + "\n"));
}

fn mask_answer_key(line: &str, items: &[String]) -> String {
    let Some(rest) = line.strip_prefix(".answers.") else {
        return line.to_string();
    };
    match items
        .iter()
        .find(|i| rest.starts_with(i.as_str()) && rest[i.len()..].starts_with([':', '.']))
    {
        Some(i) => format!(".answers.<item>{}", &rest[i.len()..]),
        None => line.to_string(),
    }
}
