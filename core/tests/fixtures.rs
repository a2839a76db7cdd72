//! The project's fixtures load and are what the issue asks for; malformed fixtures fail with a
//! message naming the file, the item and the problem; checklist versions are immutable and an
//! inspection started on an old version can still be finished.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use firegrid_core::Error;
use firegrid_core::access::Role;
use firegrid_core::checklist;
use firegrid_core::district;
use firegrid_core::hazard::Severity;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::{Category, PremisesKind};
use firegrid_core::standard::{self, ElementKind};
use serde_json::Value;

#[test]
fn the_project_fixtures_are_complete() {
    let f = loaded();
    let by_id = |id: &str| {
        f.checklists
            .iter()
            .find(|c| c.id == id && c.version == 1)
            .unwrap()
    };
    let res = by_id("residential_compound");
    let shop = by_id("street_shop");
    let unit = by_id("large_unit");
    assert_eq!(res.category, Category::Residential);
    assert_eq!(shop.category, Category::StreetShop);
    assert_eq!(unit.category, Category::LargeSite);
    for c in [res, shop] {
        assert!(
            (20..=40).contains(&c.items.len()),
            "{} has {} items",
            c.id,
            c.items.len()
        );
    }
    // Category 3 includes every category-2 item, first, then its own.
    assert!(shop.items.iter().all(|i| unit.item(&i.id).is_some()));
    assert_eq!(unit.items[0].id, shop.items[0].id);
    assert!(unit.items.len() >= shop.items.len() + 20);
    assert!(
        unit.items
            .iter()
            .any(|i| i.only_for == ["construction_site"])
    );
    assert!(
        unit.items
            .iter()
            .any(|i| i.only_for == ["underground_space"])
    );
    assert!(
        res.items
            .iter()
            .any(|i| i.only_for == ["high_rise_residential"])
    );
    for c in &f.checklists {
        for i in &c.items {
            assert!(i.text.is_complete(), "{} {}", c.id, i.id);
            assert!(!i.source.is_empty());
        }
        assert!(c.items.iter().any(|i| i.severity == Severity::Serious));
    }
    assert!(
        f.checklists
            .iter()
            .flat_map(|c| &c.items)
            .any(|i| !i.gb35181.is_empty())
    );

    let gb = f.standards.iter().find(|s| s.version == "2017").unwrap();
    assert_eq!(
        gb.elements
            .iter()
            .filter(|e| e.kind == ElementKind::Direct)
            .count(),
        10
    );
    assert!(
        gb.elements
            .iter()
            .filter(|e| e.kind == ElementKind::Comprehensive)
            .count()
            >= 30
    );
    assert!(!gb.comprehensive_rules.is_empty());
    assert!(gb.review_note.zh.contains("2025"));

    let d = &f.district;
    assert_eq!(d.communities.len(), 20);
    assert!(
        (1400..=1600).contains(&d.premises.len()),
        "{} premises",
        d.premises.len()
    );
    for cat in [
        Category::Residential,
        Category::StreetShop,
        Category::LargeSite,
    ] {
        assert!(d.premises.iter().any(|p| p.category() == cat));
    }
    for kind in PremisesKind::ALL {
        assert!(
            d.premises.iter().any(|p| p.kind == *kind),
            "no premises of kind {kind}"
        );
    }
    for role in Role::ALL {
        assert!(
            d.users.iter().any(|u| u.role == *role),
            "no user with role {role}"
        );
    }
    assert!(d.key_residents.len() >= 100);
    assert!(!d.micro_stations.is_empty() && !d.departments.is_empty());
}

/// Copies the project's checklist files to a temp folder, lets `edit` change one, and loads.
fn load_edited_checklists(
    file: &str,
    edit: impl FnOnce(&mut Value),
) -> (tempfile::TempDir, Result<Vec<checklist::Checklist>, Error>) {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join("checklists")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let path = dir.path().join(file);
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let r = checklist::load_dir(dir.path(), &loaded().standards);
    (dir, r)
}

fn assert_fixture_error(
    r: Result<impl std::fmt::Debug, Error>,
    file: &str,
    item: &str,
    problem: &str,
) {
    match r {
        Err(e @ Error::Fixture { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(file), "{msg:?} should name the file {file}");
            assert!(msg.contains(item), "{msg:?} should name {item}");
            assert!(msg.contains(problem), "{msg:?} should say {problem}");
        }
        other => panic!("expected a fixture error, got {other:?}"),
    }
}

#[test]
fn malformed_checklists_are_refused_with_file_item_and_problem() {
    let item0 = |v: &mut Value| v["items"][0]["id"].as_str().unwrap().to_string();

    let (_d, r) = load_edited_checklists("street_shop.v1.json", |v| {
        let dup = v["items"][0].clone();
        v["items"].as_array_mut().unwrap().push(dup);
    });
    assert_fixture_error(r, "street_shop.v1.json", "item shop.", "used twice");

    let mut id = String::new();
    let (_d, r) = load_edited_checklists("residential_compound.v1.json", |v| {
        id = item0(v);
        v["items"][0]["group"] = "no_such_group".into();
    });
    assert_fixture_error(
        r,
        "residential_compound.v1.json",
        &format!("item {id}"),
        "no_such_group",
    );

    let (_d, r) = load_edited_checklists("residential_compound.v1.json", |v| {
        v["items"][1]["severity"] = "catastrophic".into()
    });
    assert_fixture_error(r, "residential_compound.v1.json", "line", "catastrophic");

    let (_d, r) = load_edited_checklists("residential_compound.v1.json", |v| {
        id = item0(v);
        v["items"][0]["text"]["en"] = "".into();
    });
    assert_fixture_error(
        r,
        "residential_compound.v1.json",
        &format!("item {id}"),
        "zh and en",
    );

    let (_d, r) = load_edited_checklists("residential_compound.v1.json", |v| {
        id = item0(v);
        v["items"][0]["only_for"] = serde_json::json!(["spaceship"]);
    });
    assert_fixture_error(
        r,
        "residential_compound.v1.json",
        &format!("item {id}"),
        "spaceship",
    );

    let (_d, r) = load_edited_checklists("residential_compound.v1.json", |v| {
        id = item0(v);
        v["items"][0]["gb35181"] = serde_json::json!(["2017:9.9.9"]);
    });
    assert_fixture_error(
        r,
        "residential_compound.v1.json",
        &format!("item {id}"),
        "2017:9.9.9",
    );

    let (_d, r) =
        load_edited_checklists("residential_compound.v1.json", |v| v["version"] = 2.into());
    assert_fixture_error(
        r,
        "residential_compound.v1.json",
        "file name",
        "residential_compound.v2.json",
    );

    let (_d, r) = load_edited_checklists("large_unit.v1.json", |v| {
        v["includes"][0]["version"] = 9.into()
    });
    assert_fixture_error(
        r,
        "large_unit.v1.json",
        "street_shop v9",
        "no such checklist version",
    );

    let (_d, r) = load_edited_checklists("street_shop.v1.json", |v| {
        v["applies_to"] = serde_json::json!(["residential_compound"])
    });
    assert_fixture_error(r, "street_shop.v1.json", "applies_to", "category 1");

    let (_d, r) = load_edited_checklists("street_shop.v1.json", |v| {
        v["format"] = "firegrid.checklist/9".into()
    });
    assert_fixture_error(r, "street_shop.v1.json", "format", "firegrid.checklist/9");

    let (_d, r) = load_edited_checklists("street_shop.v1.json", |v| v["colour"] = "red".into());
    assert_fixture_error(r, "street_shop.v1.json", "line", "colour");

    // Broken JSON names the line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("street_shop.v1.json"),
        "{\n  \"format\": \"firegrid.checklist/1\",\n  oops\n}",
    )
    .unwrap();
    assert_fixture_error(
        checklist::load_dir(dir.path(), &[]),
        "street_shop.v1.json",
        "line 3",
        "",
    );
}

#[test]
fn malformed_standards_and_districts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("standards/gb35181-2017.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    v["comprehensive_rules"][0]["counted"] = serde_json::json!(["6.1"]);
    let path = dir.path().join("gb35181-2017.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_fixture_error(
        standard::load_dir(dir.path()),
        "gb35181-2017.json",
        "comprehensive_rules[0]",
        "direct element",
    );

    let edit_district = |file: &str, edit: &dyn Fn(&mut Value)| -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "street.json",
            "premises.json",
            "key_residents.json",
            "users.json",
        ] {
            std::fs::copy(
                fixtures().join("district").join(name),
                dir.path().join(name),
            )
            .unwrap();
        }
        let p = dir.path().join(file);
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        let root = dir.path().to_path_buf();
        (dir, root)
    };
    let d = &loaded().district;
    let foreign_grid = d
        .grids
        .iter()
        .find(|g| g.community != d.premises[5].community)
        .unwrap()
        .id
        .clone();
    let (_t, root) = edit_district("premises.json", &|v| {
        v["premises"][5]["grid"] = foreign_grid.clone().into()
    });
    assert_fixture_error(
        district::load_dir(&root),
        "premises.json",
        &format!("premises {}", d.premises[5].id),
        "belongs to",
    );

    let (_t, root) = edit_district("users.json", &|v| {
        v["users"][0]["scope"] = serde_json::json!({"grid": "grid.nowhere"})
    });
    assert_fixture_error(
        district::load_dir(&root),
        "users.json",
        &format!("user {}", d.users[0].id),
        "grid.nowhere",
    );

    let (_t, root) = edit_district("premises.json", &|v| {
        let dup = v["premises"][0].clone();
        v["premises"].as_array_mut().unwrap().push(dup);
    });
    assert_fixture_error(
        district::load_dir(&root),
        "premises.json",
        &format!("premises {}", d.premises[0].id),
        "used twice",
    );

    let (_t, root) = edit_district("key_residents.json", &|v| {
        v["key_residents"][0]["premises"] = d
            .premises
            .iter()
            .find(|p| p.kind == PremisesKind::StreetShop)
            .unwrap()
            .id
            .clone()
            .into()
    });
    assert_fixture_error(
        district::load_dir(&root),
        "key_residents.json",
        &format!("key resident {}", d.key_residents[0].id),
        "not a residential compound",
    );

    let missing = tempfile::tempdir().unwrap();
    assert_fixture_error(
        district::load_dir(missing.path()),
        "street.json",
        "file",
        "cannot read",
    );
}

fn write_v2(dir: &Path, edit: impl FnOnce(&mut Value)) -> Vec<checklist::Checklist> {
    for entry in std::fs::read_dir(fixtures().join("checklists")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("street_shop.v1.json")).unwrap()).unwrap();
    v["version"] = 2.into();
    edit(&mut v);
    std::fs::write(
        dir.join("street_shop.v2.json"),
        serde_json::to_vec_pretty(&v).unwrap(),
    )
    .unwrap();
    checklist::load_dir(dir, &loaded().standards).unwrap()
}

#[test]
fn a_new_checklist_version_never_rewrites_past_inspections() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    let shop = loaded()
        .district
        .premises
        .iter()
        .find(|p| p.kind == PremisesKind::StreetShop)
        .unwrap();
    let old = store.start_inspection(&shop.id, None).unwrap();
    assert_eq!(old.checklist_version, 1);

    // Version 2 drops the first item and adds a new one.
    let v2_dir = tempfile::tempdir().unwrap();
    let dropped = loaded()
        .checklists
        .iter()
        .find(|c| c.id == "street_shop")
        .unwrap()
        .items[0]
        .id
        .clone();
    let all = write_v2(v2_dir.path(), |v| {
        let items = v["items"].as_array_mut().unwrap();
        let mut new_item = items[0].clone();
        items.remove(0);
        new_item["id"] = "shop.v2_new_item".into();
        items.push(new_item);
    });
    let r = store.import_checklists(&all).unwrap();
    assert_eq!(r.created, 1, "only street_shop v2 is new");

    let new = store.start_inspection(&shop.id, None).unwrap();
    assert_eq!(new.checklist_version, 2);
    assert!(new.items.contains(&"shop.v2_new_item".to_string()));
    assert!(!new.items.contains(&dropped));

    // The old inspection still answers and finishes on version 1, including the dropped item.
    assert!(old.items.contains(&dropped));
    for item in &old.items {
        store
            .answer(&old.id, item, AnswerResult::Pass, None)
            .unwrap();
    }
    store.finish_inspection(&old.id, None).unwrap();
    let old = store.inspection(&old.id).unwrap();
    assert_eq!(
        (old.checklist.as_str(), old.checklist_version),
        ("street_shop", 1)
    );
    assert_eq!(
        store
            .checklist("street_shop", 1)
            .unwrap()
            .item(&dropped)
            .unwrap()
            .id,
        dropped
    );

    // A published version cannot be changed.
    let changed_v1 = {
        let mut c = loaded()
            .checklists
            .iter()
            .find(|c| c.id == "street_shop")
            .unwrap()
            .clone();
        c.items[0].text.zh.push('！');
        c
    };
    assert!(matches!(
        store.import_checklists(&[changed_v1]),
        Err(Error::ChecklistVersionConflict { version: 1, .. })
    ));
    store.verify().unwrap();
}
