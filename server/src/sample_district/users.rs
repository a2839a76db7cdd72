//! `users.json`: users of every role, each with a scope on the street of `street.json`.

use super::model::{Role, Scope, StreetFile, User, UsersFile};
use super::names::{self, Taken};
use super::rng::Rng;
use super::street::STREET_ID;

const STATION_CREW: usize = 3;
const STREET_OFFICE: usize = 4;

pub(crate) fn generate(rng: &mut Rng, street: &StreetFile) -> UsersFile {
    let mut users = Users {
        rng,
        names: Taken::default(),
        users: Vec::new(),
    };
    for grid in &street.grids {
        users.add("gp", Role::GridPatroller, Scope::Grid(grid.id.clone()));
    }
    for community in &street.communities {
        let count = if users.rng.percent(50) { 2 } else { 1 };
        for _ in 0..count {
            users.add(
                "rw",
                Role::ResidentialWorker,
                Scope::Community(community.id.clone()),
            );
        }
    }
    for station in &street.micro_stations {
        for _ in 0..STATION_CREW {
            users.add("sc", Role::StationCrew, Scope::Station(station.id.clone()));
        }
    }
    for _ in 0..STREET_OFFICE {
        users.add(
            "so",
            Role::StreetOffice,
            Scope::Street(STREET_ID.to_owned()),
        );
    }
    for department in &street.departments {
        users.add(
            "dp",
            Role::Department,
            Scope::Department(department.id.clone()),
        );
    }
    users.add("ad", Role::Admin, Scope::Street(STREET_ID.to_owned()));
    UsersFile {
        format: "firegrid.users/1",
        users: users.users,
    }
}

#[derive(Debug)]
struct Users<'a> {
    rng: &'a mut Rng,
    names: Taken,
    users: Vec<User>,
}

impl Users<'_> {
    /// Adds a user with the next id of its role (`u.gp001`, `u.gp002`, …) and a unique name.
    fn add(&mut self, prefix: &str, role: Role, scope: Scope) {
        let number = self.users.iter().filter(|u| u.role == role).count() + 1;
        let id = format!("u.{prefix}{number:03}");
        let rng = &mut *self.rng;
        let name = self.names.claim(&id, || names::person(rng, false));
        self.users.push(User {
            id,
            name,
            role,
            scope,
        });
    }
}
