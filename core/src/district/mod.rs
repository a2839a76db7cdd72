//! The street's organisation and premises as loaded from `fixtures/district/`: communities,
//! grids, micro fire stations, departments, premises, key residents and users. The loader
//! validates every reference (a premises' grid belongs to its community, …) and fails with the
//! file, the record id and the problem.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::access::{ScopeKind, User};
use crate::fixture::{check_format, read_json};
use crate::premises::Premises;
use crate::vocab::{Localized, string_enum};
use crate::{Error, Result};

/// Format tags of the four district files.
pub const STREET_FORMAT: &str = "firegrid.street/1";
/// Format tag of `premises.json`.
pub const PREMISES_FORMAT: &str = "firegrid.premises/1";
/// Format tag of `key_residents.json`.
pub const KEY_RESIDENTS_FORMAT: &str = "firegrid.key_residents/1";
/// Format tag of `users.json`.
pub const USERS_FORMAT: &str = "firegrid.users/1";

/// The street (街道) itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Street {
    /// Id, e.g. `street.zhenru`.
    pub id: String,
    /// Name.
    pub name: Localized,
    /// The district (区) above it.
    pub district: Localized,
    /// The street's hazard rules (deadlines, recurrence, supervision); defaults when absent.
    #[serde(default)]
    #[autosurgeon(missing = "Option::default")]
    pub hazard_rules: Option<crate::hazard::HazardRules>,
}

/// A community (居民区) and its neighbourhood committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Community {
    /// Id, e.g. `com.01`.
    pub id: String,
    /// Name.
    pub name: Localized,
    /// Committee office address.
    pub address: String,
}

/// A grid (网格): a patrol area within a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Id, e.g. `grid.01.1`.
    pub id: String,
    /// Community it belongs to.
    pub community: String,
    /// Name.
    pub name: Localized,
}

/// A micro fire station (微型消防站) and the communities it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct MicroStation {
    /// Id, e.g. `sta.01`.
    pub id: String,
    /// Name.
    pub name: Localized,
    /// Communities served.
    pub communities: Vec<String>,
    /// Address.
    pub address: String,
}

string_enum! {
    /// What a member department does.
    pub enum DepartmentKind {
        /// 城管 / 综合执法
        Enforcement = "enforcement",
        /// 派出所
        Police = "police",
        /// 市场监管所
        Market = "market",
        /// 房管
        Housing = "housing",
        /// 建管
        Construction = "construction",
    }
}

/// A member department (成员单位) that takes dispatched cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Id, e.g. `dept.enforcement`.
    pub id: String,
    /// What it does.
    pub kind: DepartmentKind,
    /// Name.
    pub name: Localized,
}

string_enum! {
    /// Living situation of a key resident.
    pub enum LivingStatus {
        /// 独居
        LivingAlone = "living_alone",
        /// 孤老
        SolitaryElderly = "solitary_elderly",
        /// 纯老家庭
        ElderlyCouple = "elderly_couple",
        /// 残疾
        Disabled = "disabled",
    }
}

string_enum! {
    /// Smoke alarm fitted in the home.
    pub enum SmokeAlarm {
        /// 未安装
        None = "none",
        /// 独立式
        Standalone = "standalone",
        /// 联网式
        Networked = "networked",
    }
}

string_enum! {
    /// How well the resident can move (affects escape).
    pub enum Mobility {
        /// Moves unaided.
        Independent = "independent",
        /// Needs help.
        Assisted = "assisted",
        /// Bedridden.
        Bedridden = "bedridden",
    }
}

/// An emergency contact of a key resident (personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContact {
    /// Name.
    pub name: String,
    /// Relation: child, neighbour, building_leader, relative.
    pub relation: String,
    /// Phone.
    pub phone: String,
}

/// A key resident (重点人员) who gets home visits, e.g. an elderly person living alone
/// (personal data: never logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct KeyResident {
    /// Id, e.g. `kr.0001`.
    pub id: String,
    /// Community.
    pub community: String,
    /// The residential compound they live in.
    pub premises: String,
    /// Name.
    pub name: String,
    /// Age in years.
    pub age: u32,
    /// Living situation.
    pub living_status: LivingStatus,
    /// Flat address within the compound.
    pub address: String,
    /// Phone.
    pub phone: Option<String>,
    /// Who to call.
    pub emergency_contacts: Vec<EmergencyContact>,
    /// Smoke alarm fitted.
    pub smoke_alarm: SmokeAlarm,
    /// Mobility.
    pub mobility: Mobility,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreetFile {
    format: String,
    #[allow(dead_code, reason = "provenance note, kept in the file for readers")]
    generated: Option<serde_json::Value>,
    street: Street,
    communities: Vec<Community>,
    grids: Vec<Grid>,
    micro_stations: Vec<MicroStation>,
    departments: Vec<Department>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PremisesFile {
    format: String,
    premises: Vec<Premises>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyResidentsFile {
    format: String,
    key_residents: Vec<KeyResident>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    format: String,
    users: Vec<User>,
}

/// A whole street as loaded from a district folder.
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// The street.
    pub street: Street,
    /// Communities.
    pub communities: Vec<Community>,
    /// Grids.
    pub grids: Vec<Grid>,
    /// Micro fire stations.
    pub micro_stations: Vec<MicroStation>,
    /// Member departments.
    pub departments: Vec<Department>,
    /// Premises.
    pub premises: Vec<Premises>,
    /// Key residents.
    pub key_residents: Vec<KeyResident>,
    /// Users.
    pub users: Vec<User>,
}

/// Loads and validates `street.json`, `premises.json`, `key_residents.json` and `users.json`.
pub fn load_dir(dir: &Path) -> Result<District> {
    let street_path = dir.join("street.json");
    let premises_path = dir.join("premises.json");
    let residents_path = dir.join("key_residents.json");
    let users_path = dir.join("users.json");

    let s: StreetFile = read_json(&street_path)?;
    check_format(&street_path, &s.format, STREET_FORMAT)?;
    if let Some(rules) = &s.street.hazard_rules {
        rules
            .validate()
            .map_err(|e| Error::fixture(&street_path, "street.hazard_rules", e.to_string()))?;
    }
    let p: PremisesFile = read_json(&premises_path)?;
    check_format(&premises_path, &p.format, PREMISES_FORMAT)?;
    let r: KeyResidentsFile = read_json(&residents_path)?;
    check_format(&residents_path, &r.format, KEY_RESIDENTS_FORMAT)?;
    let u: UsersFile = read_json(&users_path)?;
    check_format(&users_path, &u.format, USERS_FORMAT)?;

    let district = District {
        street: s.street,
        communities: s.communities,
        grids: s.grids,
        micro_stations: s.micro_stations,
        departments: s.departments,
        premises: p.premises,
        key_residents: r.key_residents,
        users: u.users,
    };
    let paths = Paths {
        street: street_path,
        premises: premises_path,
        residents: residents_path,
        users: users_path,
    };
    validate(&paths, &district)?;
    Ok(district)
}

struct Paths {
    street: PathBuf,
    premises: PathBuf,
    residents: PathBuf,
    users: PathBuf,
}

/// Records ids must be unique per file and well-formed.
fn unique_ids<'a>(
    path: &Path,
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>> {
    let mut seen = HashSet::new();
    for id in ids {
        crate::vocab::validate_id("id", id)
            .map_err(|e| Error::fixture(path, format!("{what} {id:?}"), e.to_string()))?;
        if !seen.insert(id) {
            return Err(Error::fixture(
                path,
                format!("{what} {id}"),
                "id is used twice",
            ));
        }
    }
    Ok(seen)
}

fn validate(paths: &Paths, d: &District) -> Result<()> {
    let sp = &paths.street;
    crate::vocab::validate_id("street.id", &d.street.id)
        .map_err(|e| Error::fixture(sp, "street", e.to_string()))?;
    if !d.street.name.is_complete() {
        return Err(Error::fixture(sp, "street", "name needs both zh and en"));
    }
    let communities = unique_ids(sp, "community", d.communities.iter().map(|c| c.id.as_str()))?;
    for c in &d.communities {
        if !c.name.is_complete() {
            return Err(Error::fixture(
                sp,
                format!("community {}", c.id),
                "name needs both zh and en",
            ));
        }
    }
    let grids = unique_ids(sp, "grid", d.grids.iter().map(|g| g.id.as_str()))?;
    let grid_community: HashMap<&str, &str> = d
        .grids
        .iter()
        .map(|g| (g.id.as_str(), g.community.as_str()))
        .collect();
    for g in &d.grids {
        if !communities.contains(g.community.as_str()) {
            return Err(Error::fixture(
                sp,
                format!("grid {}", g.id),
                format!("community {} is not defined", g.community),
            ));
        }
        if !g.name.is_complete() {
            return Err(Error::fixture(
                sp,
                format!("grid {}", g.id),
                "name needs both zh and en",
            ));
        }
    }
    let stations = unique_ids(
        sp,
        "micro station",
        d.micro_stations.iter().map(|s| s.id.as_str()),
    )?;
    for s in &d.micro_stations {
        for c in &s.communities {
            if !communities.contains(c.as_str()) {
                return Err(Error::fixture(
                    sp,
                    format!("micro station {}", s.id),
                    format!("community {c} is not defined"),
                ));
            }
        }
    }
    let departments = unique_ids(
        sp,
        "department",
        d.departments.iter().map(|x| x.id.as_str()),
    )?;

    let pp = &paths.premises;
    unique_ids(pp, "premises", d.premises.iter().map(|p| p.id.as_str()))?;
    for p in &d.premises {
        let at = format!("premises {}", p.id);
        if !communities.contains(p.community.as_str()) {
            return Err(Error::fixture(
                pp,
                at,
                format!("community {} is not defined", p.community),
            ));
        }
        match grid_community.get(p.grid.as_str()) {
            None => {
                return Err(Error::fixture(
                    pp,
                    at,
                    format!("grid {} is not defined", p.grid),
                ));
            }
            Some(c) if *c != p.community => {
                return Err(Error::fixture(
                    pp,
                    at,
                    format!("grid {} belongs to {c}, not to {}", p.grid, p.community),
                ));
            }
            Some(_) => {}
        }
        if p.name.trim().is_empty() || p.address.trim().is_empty() {
            return Err(Error::fixture(pp, at, "name and address must not be empty"));
        }
        if let Some(loc) = &p.location {
            loc.validate()
                .map_err(|e| Error::fixture(pp, format!("premises {}", p.id), e.to_string()))?;
        }
    }
    let compound_community: HashMap<&str, (&str, crate::premises::PremisesKind)> = d
        .premises
        .iter()
        .map(|p| (p.id.as_str(), (p.community.as_str(), p.kind)))
        .collect();

    let rp = &paths.residents;
    unique_ids(
        rp,
        "key resident",
        d.key_residents.iter().map(|r| r.id.as_str()),
    )?;
    for r in &d.key_residents {
        let at = format!("key resident {}", r.id);
        match compound_community.get(r.premises.as_str()) {
            None => {
                return Err(Error::fixture(
                    rp,
                    at,
                    format!("premises {} is not defined", r.premises),
                ));
            }
            Some((_, kind)) if *kind != crate::premises::PremisesKind::ResidentialCompound => {
                return Err(Error::fixture(
                    rp,
                    at,
                    format!("premises {} is not a residential compound", r.premises),
                ));
            }
            Some((c, _)) if *c != r.community => {
                return Err(Error::fixture(
                    rp,
                    at,
                    format!("premises {} is in {c}, not in {}", r.premises, r.community),
                ));
            }
            Some(_) => {}
        }
    }

    let up = &paths.users;
    unique_ids(up, "user", d.users.iter().map(|u| u.id.as_str()))?;
    for u in &d.users {
        let exists = match u.scope.kind {
            ScopeKind::Street => u.scope.id == d.street.id,
            ScopeKind::Community => communities.contains(u.scope.id.as_str()),
            ScopeKind::Grid => grids.contains(u.scope.id.as_str()),
            ScopeKind::Station => stations.contains(u.scope.id.as_str()),
            ScopeKind::Department => departments.contains(u.scope.id.as_str()),
        };
        if !exists {
            return Err(Error::fixture(
                up,
                format!("user {}", u.id),
                format!("scope {} {} is not defined", u.scope.kind, u.scope.id),
            ));
        }
    }
    Ok(())
}
