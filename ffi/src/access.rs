//! Users, roles and scopes as the app shows them (who is signed in, what area they cover), and
//! the member departments a case is dispatched to.

use firegrid_core::access as domain;

use crate::vocab::{Localized, mirror_enum};

mirror_enum! {
    /// What a user does in the street's fire-safety work.
    Role = domain::Role {
        /// 网格员 — grid patrol staff.
        GridPatroller,
        /// 居委专兼职消防工作人员 — residential fire-safety worker.
        ResidentialWorker,
        /// 微型消防站队员 — micro fire-station crew.
        StationCrew,
        /// 消防安全办公室 — the street fire-safety office.
        StreetOffice,
        /// 成员单位 — a member department taking dispatched cases.
        Department,
        /// System administrator.
        Admin,
    }
}

mirror_enum! {
    /// The kind of area a scope covers.
    ScopeKind = domain::ScopeKind {
        /// The whole street.
        Street,
        /// One community (neighbourhood committee).
        Community,
        /// One grid.
        Grid,
        /// The communities a micro fire station serves.
        Station,
        /// A member department.
        Department,
    }
}

/// The area a user works in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Scope {
    /// What kind of area.
    pub kind: ScopeKind,
    /// The id of the street, community, grid, station or department.
    pub id: String,
}

impl From<domain::Scope> for Scope {
    fn from(s: domain::Scope) -> Self {
        Scope {
            kind: s.kind.into(),
            id: s.id,
        }
    }
}

/// A user as the device knows them (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct User {
    /// Stable id, e.g. `u.gp001`.
    pub id: String,
    /// Display name (personal data: never log it).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Area of work.
    pub scope: Scope,
}

impl From<domain::User> for User {
    fn from(u: domain::User) -> Self {
        User {
            id: u.id,
            name: u.name,
            role: u.role.into(),
            scope: u.scope.into(),
        }
    }
}

mirror_enum! {
    /// What a member department does.
    DepartmentKind = firegrid_core::district::DepartmentKind {
        /// 城管 / 综合执法 — city management and enforcement.
        Enforcement,
        /// 派出所 — the police station.
        Police,
        /// 市场监管所 — market supervision.
        Market,
        /// 房管 — housing management.
        Housing,
        /// 建管 — construction management.
        Construction,
    }
}

/// A member department (成员单位) a case can be dispatched to: the dispatch picker's rows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Department {
    /// Id, e.g. `dept.enforcement`: what `HazardAction.Dispatch` takes.
    pub id: String,
    /// What it does.
    pub kind: DepartmentKind,
    /// Name.
    pub name: Localized,
}

impl From<firegrid_core::district::Department> for Department {
    fn from(d: firegrid_core::district::Department) -> Self {
        Department {
            id: d.id,
            kind: d.kind.into(),
            name: d.name.into(),
        }
    }
}
