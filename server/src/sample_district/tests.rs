use std::collections::{BTreeMap, BTreeSet};

use super::model::{LivingStatus, PremisesKind, Relation, Role, Scope, Subtype};
use super::{DEFAULT_SEED, District, generate, render, write_to};

const REGENERATE: &str = "cargo run -p firegrid-server -- sample-district --out fixtures/district";

fn rendered(seed: u64) -> [(&'static str, String); 4] {
    render(&generate(seed)).expect("the sample serialises")
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    assert_eq!(rendered(DEFAULT_SEED), rendered(DEFAULT_SEED));

    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("district");
    assert_eq!(write_to(&out, 7).expect("write"), 4);
    for (name, text) in rendered(7) {
        let written = std::fs::read_to_string(out.join(name)).expect("written file");
        assert_eq!(written, text, "{name}");
        assert!(written.ends_with("}\n"), "{name} ends with a newline");
    }
}

#[test]
fn a_different_seed_gives_a_different_sample() {
    for ((name, one), (_, two)) in rendered(1).into_iter().zip(rendered(2)) {
        assert_ne!(one, two, "{name}");
    }
}

#[test]
fn the_files_are_json_of_their_formats() {
    let formats = [
        "firegrid.street/1",
        "firegrid.premises/1",
        "firegrid.key_residents/1",
        "firegrid.users/1",
    ];
    for ((name, text), format) in rendered(DEFAULT_SEED).into_iter().zip(formats) {
        let value: serde_json::Value = serde_json::from_str(&text).expect(name);
        assert_eq!(value["format"], format, "{name}");
        assert!(text.len() < 1_000_000, "{name} is {} bytes", text.len());
    }
}

#[test]
fn the_core_loader_accepts_the_sample() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_to(dir.path(), DEFAULT_SEED).expect("write");
    let district = firegrid_core::district::load_dir(dir.path()).expect("the sample loads");
    assert_eq!(
        district.premises.len(),
        generate(DEFAULT_SEED).premises.premises.len()
    );
}

#[test]
fn counts_are_in_range_and_references_resolve() {
    for seed in [DEFAULT_SEED, 0, 1, 42, u64::MAX] {
        check(&generate(seed), seed);
    }
}

#[test]
fn the_committed_fixtures_are_a_fresh_generation() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/district"));
    for (name, text) in rendered(DEFAULT_SEED) {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            committed == text,
            "fixtures/district/{name} is not what the generator makes with the default seed; \
             if the change to the generator is intended, run `{REGENERATE}` and commit the result"
        );
    }
}

fn is_phone(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with("1390000") && phone.bytes().all(|b| b.is_ascii_digit())
}

fn sequential<'a>(ids: impl Iterator<Item = &'a str>, prefix: &str, width: usize) -> bool {
    ids.enumerate()
        .all(|(index, id)| id == format!("{prefix}{:0width$}", index + 1))
}

fn check(district: &District, seed: u64) {
    let street = &district.street;
    let ctx = format!("seed {seed}");
    assert_eq!(street.generated.seed, seed);

    // Communities and grids.
    assert_eq!(street.communities.len(), 20, "{ctx}");
    assert!(
        sequential(street.communities.iter().map(|c| c.id.as_str()), "com.", 2),
        "{ctx}"
    );
    let communities: BTreeSet<&str> = street.communities.iter().map(|c| c.id.as_str()).collect();
    let grid_community: BTreeMap<&str, &str> = street
        .grids
        .iter()
        .map(|g| (g.id.as_str(), g.community.as_str()))
        .collect();
    assert_eq!(
        grid_community.len(),
        street.grids.len(),
        "{ctx}: grid ids are unique"
    );
    assert!(
        (60..=120).contains(&street.grids.len()),
        "{ctx}: {} grids",
        street.grids.len()
    );
    for community in &street.communities {
        let grids: Vec<_> = street
            .grids
            .iter()
            .filter(|g| g.community == community.id)
            .collect();
        assert!(
            (3..=6).contains(&grids.len()),
            "{ctx}: {} has {} grids",
            community.id,
            grids.len()
        );
        for (index, grid) in grids.iter().enumerate() {
            assert_eq!(
                grid.id,
                format!("grid.{}.{}", &community.id[4..], index + 1),
                "{ctx}"
            );
        }
    }
    assert!(
        grid_community.values().all(|c| communities.contains(c)),
        "{ctx}"
    );

    // Stations cover every community exactly once.
    assert_eq!(street.micro_stations.len(), 8, "{ctx}");
    let mut served: Vec<&str> = street
        .micro_stations
        .iter()
        .flat_map(|s| s.communities.iter().map(String::as_str))
        .collect();
    served.sort_unstable();
    assert_eq!(
        served,
        communities.iter().copied().collect::<Vec<_>>(),
        "{ctx}"
    );
    let stations: BTreeSet<&str> = street
        .micro_stations
        .iter()
        .map(|s| s.id.as_str())
        .collect();

    let departments: BTreeSet<&str> = street.departments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        departments,
        BTreeSet::from([
            "dept.construction",
            "dept.enforcement",
            "dept.housing",
            "dept.market",
            "dept.police"
        ]),
        "{ctx}"
    );

    // Premises.
    let premises = &district.premises.premises;
    assert!(
        (1_400..=1_600).contains(&premises.len()),
        "{ctx}: {} premises",
        premises.len()
    );
    assert!(
        sequential(premises.iter().map(|p| p.id.as_str()), "prem.", 4),
        "{ctx}"
    );
    let mut per_kind: BTreeMap<PremisesKind, usize> = BTreeMap::new();
    let mut per_category = [0_usize; 4];
    let mut names = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    let mut phones = BTreeSet::new();
    for p in premises {
        let what = format!("{ctx}: {} {}", p.id, p.name);
        *per_kind.entry(p.kind).or_default() += 1;
        let category = p.kind.category();
        per_category[usize::from(category)] += 1;
        assert_eq!(
            grid_community.get(p.grid.as_str()),
            Some(&p.community.as_str()),
            "{what}"
        );
        assert!((31.24..=31.26).contains(&p.location.lat), "{what}");
        assert!((121.39..=121.42).contains(&p.location.lon), "{what}");
        for degrees in [p.location.lat, p.location.lon] {
            assert!(
                ((degrees * 1e6).round() / 1e6 - degrees).abs() < 1e-12,
                "{what}: 6 decimals"
            );
        }
        assert!(
            is_phone(&p.contact.phone) && phones.insert(p.contact.phone.clone()),
            "{what}"
        );
        assert!(!p.contact.name.is_empty(), "{what}");
        assert!(names.insert(p.name.clone()), "{what}: name is unique");
        assert!(
            addresses.insert(p.address.clone()),
            "{what}: address is unique"
        );
        assert!(p.floors >= 1 && p.area_m2 >= 10, "{what}");
        let mut sorted = p.subtypes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, p.subtypes, "{what}: subtypes sorted and unique");
        for subtype in &p.subtypes {
            let allowed = match subtype {
                Subtype::HighRiseResidential
                | Subtype::OldResidential
                | Subtype::LargeRentalHousing => category == 1,
                Subtype::ThreeInOne | Subtype::Catering | Subtype::LpgUser => category == 2,
                Subtype::CrowdedPlace => category >= 2,
                Subtype::FlammableGoods | Subtype::KeyUnit => category == 3,
                Subtype::CivilDefence => p.kind == PremisesKind::UndergroundSpace,
            };
            assert!(allowed, "{what}: {subtype:?}");
        }
        if p.kind == PremisesKind::ResidentialCompound {
            let households = p.households.unwrap_or_default();
            assert!(
                (100..=2_000).contains(&households),
                "{what}: {households} households"
            );
            assert!(p.address.ends_with('弄'), "{what}");
        } else {
            assert_eq!(p.households, None, "{what}");
            assert!(p.address.ends_with('号'), "{what}");
        }
        if p.subtypes.contains(&Subtype::HighRiseResidential) {
            assert!(p.floors >= 10, "{what}");
        }
    }
    assert!(
        (150..=210).contains(&per_category[1]),
        "{ctx}: {per_category:?}"
    );
    assert!(
        (1_100..=1_300).contains(&per_category[2]),
        "{ctx}: {per_category:?}"
    );
    assert!(
        (100..=140).contains(&per_category[3]),
        "{ctx}: {per_category:?}"
    );
    assert!(
        per_kind[&PremisesKind::StreetShop] * 2 > per_category[2],
        "{ctx}: street shops are most of category 2"
    );
    let category_2 = premises.iter().filter(|p| p.kind.category() == 2);
    let three_in_one = category_2
        .clone()
        .filter(|p| p.subtypes.contains(&Subtype::ThreeInOne))
        .count();
    assert!(
        (3..=8).contains(&(three_in_one * 100 / per_category[2])),
        "{ctx}: {three_in_one} three-in-one"
    );
    let lpg: Vec<_> = premises
        .iter()
        .filter(|p| p.subtypes.contains(&Subtype::LpgUser))
        .collect();
    let catering = lpg
        .iter()
        .filter(|p| p.subtypes.contains(&Subtype::Catering))
        .count();
    assert!(
        !lpg.is_empty() && catering * 10 >= lpg.len() * 8,
        "{ctx}: LPG users are mostly catering"
    );
    for subtype in [
        Subtype::HighRiseResidential,
        Subtype::OldResidential,
        Subtype::LargeRentalHousing,
        Subtype::CivilDefence,
    ] {
        assert!(
            premises.iter().any(|p| p.subtypes.contains(&subtype)),
            "{ctx}: some {subtype:?}"
        );
    }
    let compounds: BTreeMap<&str, _> = premises
        .iter()
        .filter(|p| p.kind == PremisesKind::ResidentialCompound)
        .map(|p| (p.id.as_str(), p))
        .collect();

    // Key residents.
    let residents = &district.key_residents.key_residents;
    assert!(
        (250..=350).contains(&residents.len()),
        "{ctx}: {} key residents",
        residents.len()
    );
    assert!(
        sequential(residents.iter().map(|r| r.id.as_str()), "kr.", 4),
        "{ctx}"
    );
    let mut flats = BTreeSet::new();
    for r in residents {
        let what = format!("{ctx}: {}", r.id);
        let compound = compounds
            .get(r.premises.as_str())
            .unwrap_or_else(|| panic!("{what}: not a compound"));
        assert_eq!(compound.community, r.community, "{what}");
        assert!(
            r.address.starts_with(&compound.address) && r.address.ends_with('室'),
            "{what}"
        );
        assert!(
            flats.insert(r.address.clone()),
            "{what}: one record per flat"
        );
        assert!((30..=98).contains(&r.age), "{what}");
        assert!(
            r.age >= 70 || r.living_status == LivingStatus::Disabled,
            "{what}"
        );
        assert!(!r.emergency_contacts.is_empty(), "{what}");
        if r.living_status == LivingStatus::SolitaryElderly {
            assert!(
                r.emergency_contacts
                    .iter()
                    .all(|c| c.relation != Relation::Child),
                "{what}"
            );
        }
        let numbers = r
            .phone
            .iter()
            .chain(r.emergency_contacts.iter().map(|c| &c.phone));
        for phone in numbers {
            assert!(
                is_phone(phone) && phones.insert(phone.clone()),
                "{what}: {phone}"
            );
        }
    }
    let elderly = residents.iter().filter(|r| r.age >= 70).count();
    assert!(
        elderly * 10 >= residents.len() * 8,
        "{ctx}: mostly 70 and over"
    );

    // Users.
    let users = &district.users.users;
    let ids: BTreeSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), users.len(), "{ctx}: user ids are unique");
    let mut scopes: BTreeMap<(Role, &Scope), usize> = BTreeMap::new();
    for user in users {
        let what = format!("{ctx}: {}", user.id);
        assert!(!user.name.is_empty(), "{what}");
        let resolves = match (&user.role, &user.scope) {
            (Role::GridPatroller, Scope::Grid(id)) => grid_community.contains_key(id.as_str()),
            (Role::ResidentialWorker, Scope::Community(id)) => communities.contains(id.as_str()),
            (Role::StationCrew, Scope::Station(id)) => stations.contains(id.as_str()),
            (Role::Department, Scope::Department(id)) => departments.contains(id.as_str()),
            (Role::StreetOffice | Role::Admin, Scope::Street(id)) => id == &street.street.id,
            _ => false,
        };
        assert!(resolves, "{what}: {:?} {:?}", user.role, user.scope);
        *scopes.entry((user.role, &user.scope)).or_default() += 1;
    }
    let count = |role: Role| users.iter().filter(|u| u.role == role).count();
    assert_eq!(
        count(Role::GridPatroller),
        street.grids.len(),
        "{ctx}: one patroller per grid"
    );
    assert!(
        scopes
            .iter()
            .filter(|((role, _), _)| *role == Role::GridPatroller)
            .all(|(_, &n)| n == 1),
        "{ctx}"
    );
    let workers = scopes
        .iter()
        .filter(|((role, _), _)| *role == Role::ResidentialWorker);
    assert_eq!(
        workers.clone().count(),
        20,
        "{ctx}: every community has a residential worker"
    );
    assert!(workers.clone().all(|(_, &n)| (1..=2).contains(&n)), "{ctx}");
    let crews = scopes
        .iter()
        .filter(|((role, _), _)| *role == Role::StationCrew);
    assert!(
        crews.clone().count() == 8 && crews.clone().all(|(_, &n)| n == 3),
        "{ctx}"
    );
    assert_eq!(count(Role::StreetOffice), 4, "{ctx}");
    assert_eq!(count(Role::Department), departments.len(), "{ctx}");
    assert_eq!(count(Role::Admin), 1, "{ctx}");
}
