//! `seed-sample` and `check-fixtures`: validate the fixtures folder and build a Firegrid store
//! seeded with the sample street, then print what it holds. The store is the same on-device
//! store the phones use (`firegrid_core::Store`); the sync server's own storage arrives with it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use firegrid_core::access::{Role, Scope, ScopeKind};
use firegrid_core::premises::{Category, PremisesFilter};
use firegrid_core::{Result, Store, checklist, district, standard};

/// The fixtures folder: `--fixtures`, else `./fixtures`, else the one beside this crate.
pub fn fixtures_dir(given: Option<PathBuf>) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let here = PathBuf::from("fixtures");
    if here.join("district").is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Loads and validates every fixture file; returns a one-paragraph summary.
pub fn check_fixtures(root: &Path) -> Result<String> {
    let standards = standard::load_dir(&root.join("standards"))?;
    let checklists = checklist::load_dir(&root.join("checklists"), &standards)?;
    let d = district::load_dir(&root.join("district"))?;
    let mut out = String::new();
    for s in &standards {
        let _ = writeln!(
            out,
            "standard  {} {} ({}): {} elements",
            s.id,
            s.version,
            s.status,
            s.elements.len()
        );
    }
    for c in &checklists {
        let _ = writeln!(
            out,
            "checklist {} v{} (category {}): {} items — {}",
            c.id,
            c.version,
            c.category.number(),
            c.items.len(),
            c.title.zh
        );
    }
    let _ = writeln!(
        out,
        "district  {}: {} communities, {} grids, {} micro stations, {} departments, {} premises, {} key residents, {} users",
        d.street.name.zh,
        d.communities.len(),
        d.grids.len(),
        d.micro_stations.len(),
        d.departments.len(),
        d.premises.len(),
        d.key_residents.len(),
        d.users.len()
    );
    Ok(out)
}

/// Creates (or updates) `data_dir/firegrid.db` from the fixtures and returns a report.
pub fn seed_sample(data_dir: &Path, fixtures: &Path) -> Result<String> {
    let mut out = check_fixtures(fixtures)?;
    std::fs::create_dir_all(data_dir).map_err(|e| firegrid_core::Error::Invalid {
        field: "data-dir",
        reason: format!("cannot create {}: {e}", data_dir.display()),
    })?;
    let db = data_dir.join("firegrid.db");
    let store = Store::open(&db)?;
    let report = store.import_fixtures(fixtures)?;
    let verified = store.verify()?;
    let _ = writeln!(
        out,
        "store     {}: {} records created, {} updated, {} unchanged; {} records verified",
        db.display(),
        report.created,
        report.updated,
        report.unchanged,
        verified.records
    );
    let d = district::load_dir(&fixtures.join("district"))?;
    let street = Scope::new(ScopeKind::Street, d.street.id.clone());
    for cat in Category::ALL {
        let n = store
            .list_premises(
                &street,
                &PremisesFilter {
                    category: Some(*cat),
                    limit: Some(5_000),
                    ..Default::default()
                },
            )?
            .len();
        let _ = writeln!(out, "premises  category {} ({}): {n}", cat.number(), cat);
    }
    for role in Role::ALL {
        let n = d.users.iter().filter(|u| u.role == *role).count();
        let example = d
            .users
            .iter()
            .find(|u| u.role == *role)
            .map(|u| u.id.as_str())
            .unwrap_or("-");
        let _ = writeln!(out, "users     {role}: {n} (e.g. {example})");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_twice_builds_the_sample_store_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixtures = fixtures_dir(None);
        let first = seed_sample(dir.path(), &fixtures).expect("seed");
        assert!(first.contains("category 2 (street_shop)"), "{first}");
        assert!(first.contains("0 updated, 0 unchanged"), "{first}");
        let second = seed_sample(dir.path(), &fixtures).expect("seed again");
        assert!(second.contains("0 records created, 0 updated"), "{second}");
        let store = Store::open(dir.path().join("firegrid.db")).expect("open");
        assert!(store.verify().expect("verify").records > 1_500);
    }

    #[test]
    fn a_bad_fixtures_folder_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = check_fixtures(dir.path()).expect_err("empty folder");
        assert!(err.to_string().contains("standards"), "{err}");
    }
}
