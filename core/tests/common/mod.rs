//! Shared helpers of the integration tests: the fixtures folder and seeded stores.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different subset"
)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use firegrid_core::Store;
use firegrid_core::checklist::{self, Checklist};
use firegrid_core::district::{self, District};
use firegrid_core::standard::{self, Standard};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

pub struct Fixtures {
    pub standards: Vec<Standard>,
    pub checklists: Vec<Checklist>,
    pub district: District,
}

/// The project's fixtures, loaded once per test binary.
pub fn loaded() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let root = fixtures();
        let standards = standard::load_dir(&root.join("standards")).expect("standards load");
        let checklists =
            checklist::load_dir(&root.join("checklists"), &standards).expect("checklists load");
        let district = district::load_dir(&root.join("district")).expect("district loads");
        Fixtures {
            standards,
            checklists,
            district,
        }
    })
}

/// A store in `dir` with the standards, checklists and the whole sample district imported.
pub fn seeded_store(dir: &Path) -> Store {
    let store = Store::open(dir.join("firegrid.db")).expect("open");
    let f = loaded();
    store
        .import_standards(&f.standards)
        .expect("import standards");
    store
        .import_checklists(&f.checklists)
        .expect("import checklists");
    store.import_district(&f.district).expect("import district");
    store
}

/// A user of the sample with this role (the first one).
pub fn user_with_role(role: firegrid_core::access::Role) -> &'static firegrid_core::access::User {
    loaded()
        .district
        .users
        .iter()
        .find(|u| u.role == role)
        .expect("the sample has every role")
}

/// A premises of the given kind inside a grid, if any.
pub fn premises_in_grid(
    grid: &str,
    kind: firegrid_core::premises::PremisesKind,
) -> Option<&'static firegrid_core::premises::Premises> {
    loaded()
        .district
        .premises
        .iter()
        .find(|p| p.grid == grid && p.kind == kind)
}

/// A well-formed photo reference with a hash made from `n`.
pub fn photo(n: u8) -> firegrid_core::vocab::PhotoRef {
    firegrid_core::vocab::PhotoRef {
        sha256: format!("{:02x}", n).repeat(32),
        captured_at_ms: Some(1_764_400_000_000),
        location: None,
    }
}
