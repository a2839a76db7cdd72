//! Users, roles and scopes as far as a device needs them: who is signed in, what area they
//! cover, and what their role may do on the device. The server enforces the same rules at sync.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::vocab::string_enum;
use crate::{Error, Result};

string_enum! {
    /// What a user does in the street's fire-safety work.
    pub enum Role {
        /// 网格员 — grid patrol staff: daily patrols of street shops.
        GridPatroller = "grid_patroller",
        /// 居委专兼职消防工作人员 — residential fire-safety worker.
        ResidentialWorker = "residential_worker",
        /// 微型消防站队员 — micro fire-station crew.
        StationCrew = "station_crew",
        /// 消防安全办公室 — the street fire-safety office.
        StreetOffice = "street_office",
        /// 成员单位 — a member department taking dispatched cases.
        Department = "department",
        /// System administrator.
        Admin = "admin",
    }
}

impl Role {
    /// Whether this role records inspections on the device.
    pub fn may_inspect(self) -> bool {
        matches!(
            self,
            Role::GridPatroller | Role::ResidentialWorker | Role::StreetOffice | Role::Admin
        )
    }

    /// Whether this role may report a hazard directly (without an inspection).
    pub fn may_report_hazard(self) -> bool {
        !matches!(self, Role::Department)
    }
}

string_enum! {
    /// The kind of area a scope covers.
    pub enum ScopeKind {
        /// The whole street.
        Street = "street",
        /// One community (neighbourhood committee).
        Community = "community",
        /// One grid.
        Grid = "grid",
        /// The communities a micro fire station serves.
        Station = "station",
        /// A member department (street-wide, for what is dispatched to it).
        Department = "department",
    }
}

/// The area a user works in: a grid, a community, a station, a department, or the whole street.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub struct Scope {
    /// What kind of area.
    pub kind: ScopeKind,
    /// The id of the street, community, grid, station or department.
    pub id: String,
}

impl Scope {
    /// A scope of the given kind and id.
    pub fn new(kind: ScopeKind, id: impl Into<String>) -> Scope {
        Scope {
            kind,
            id: id.into(),
        }
    }
}

/// Fixture and wire form: `{"grid": "grid.01.1"}`.
impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.kind.as_str(), &self.id)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        let mut it = map.into_iter();
        match (it.next(), it.next()) {
            (Some((k, id)), None) => {
                let kind = k.parse::<ScopeKind>().map_err(serde::de::Error::custom)?;
                if id.is_empty() {
                    return Err(serde::de::Error::custom("scope id is empty"));
                }
                Ok(Scope { kind, id })
            }
            _ => Err(serde::de::Error::custom(
                "a scope is an object with exactly one key: street, community, grid, station or department",
            )),
        }
    }
}

/// Where a premises (and every record at it) lies, as user scopes see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// Its community.
    pub community: String,
    /// Its grid.
    pub grid: String,
    /// The micro stations serving the community.
    pub stations: Vec<String>,
}

impl Place {
    /// Whether a user scope covers this place: the street, its community, its grid, or a
    /// station serving its community. A department scope covers no area: departments act on
    /// what is dispatched to them.
    pub fn covered_by(&self, scope: &Scope) -> bool {
        match scope.kind {
            ScopeKind::Street => true,
            ScopeKind::Community => scope.id == self.community,
            ScopeKind::Grid => scope.id == self.grid,
            ScopeKind::Station => self.stations.contains(&scope.id),
            ScopeKind::Department => false,
        }
    }
}

/// A user as the device knows them (no credentials: those live on the server and in the
/// platform keystore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// Display name (personal data: never logged).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Area of work.
    pub scope: Scope,
}

impl User {
    /// Fails with `Forbidden` unless the role may record inspections.
    pub fn require_inspector(&self) -> Result<()> {
        if self.role.may_inspect() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "role {} does not record inspections",
                self.role
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_one_key_objects() {
        let s: Scope = serde_json::from_str(r#"{"grid": "grid.01.1"}"#).unwrap();
        assert_eq!(s, Scope::new(ScopeKind::Grid, "grid.01.1"));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"grid":"grid.01.1"}"#
        );
        assert!(serde_json::from_str::<Scope>(r#"{"grid": "a", "community": "b"}"#).is_err());
        assert!(serde_json::from_str::<Scope>(r#"{"planet": "earth"}"#).is_err());
        assert!(serde_json::from_str::<Scope>(r#"{"grid": ""}"#).is_err());
    }

    #[test]
    fn roles_decide_who_inspects() {
        assert!(Role::GridPatroller.may_inspect());
        assert!(Role::ResidentialWorker.may_inspect());
        assert!(!Role::Department.may_inspect());
        assert!(!Role::StationCrew.may_inspect());
        assert!(!Role::Department.may_report_hazard());
    }
}
