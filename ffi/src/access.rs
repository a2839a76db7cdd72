//! Users, roles and scopes as the app shows them (who is signed in, what area they cover).

use firegrid_core::access as domain;

use crate::vocab::mirror_enum;

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
