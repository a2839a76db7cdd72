//! `key_residents.json`: people the residential workers visit at home (elderly people living
//! alone and others), each in a residential compound of the sample, most in old compounds.

use super::model::{
    EmergencyContact, KeyResident, KeyResidentsFile, LivingStatus, Mobility, Premises,
    PremisesFile, PremisesKind, Relation, SmokeAlarm, Subtype,
};
use super::names::{self, Phones, Taken};
use super::rng::Rng;

const KEY_RESIDENTS: usize = 300;

pub(crate) fn generate(
    rng: &mut Rng,
    premises: &PremisesFile,
    phones: &mut Phones,
) -> KeyResidentsFile {
    let compounds: Vec<&Premises> = premises
        .premises
        .iter()
        .filter(|p| p.kind == PremisesKind::ResidentialCompound)
        .collect();
    // Old compounds house most of the elderly; rental housing hardly any.
    let weights: Vec<u32> = compounds
        .iter()
        .map(|p| {
            if p.subtypes.contains(&Subtype::LargeRentalHousing) {
                0
            } else if p.subtypes.contains(&Subtype::OldResidential) {
                4
            } else {
                1
            }
        })
        .collect();
    let mut counts = vec![0_usize; compounds.len()];
    for _ in 0..KEY_RESIDENTS {
        counts[rng.weighted(&weights)] += 1;
    }

    let mut flats = Taken::default();
    let mut key_residents = Vec::new();
    for (compound, &count) in compounds.iter().zip(&counts) {
        for _ in 0..count {
            let id = format!("kr.{:04}", key_residents.len() + 1);
            key_residents.push(resident(rng, id, compound, phones, &mut flats));
        }
    }
    KeyResidentsFile {
        format: "firegrid.key_residents/1",
        key_residents,
    }
}

fn resident(
    rng: &mut Rng,
    id: String,
    compound: &Premises,
    phones: &mut Phones,
    flats: &mut Taken,
) -> KeyResident {
    let living_status = [
        LivingStatus::LivingAlone,
        LivingStatus::SolitaryElderly,
        LivingStatus::ElderlyCouple,
        LivingStatus::Disabled,
    ][rng.weighted(&[45, 20, 20, 15])];
    let age = if living_status == LivingStatus::Disabled && rng.percent(50) {
        rng.range(30, 69)
    } else {
        // Two dice: most key residents are in their late seventies to eighties.
        70 + rng.range(0, 14) + rng.range(0, 14)
    };
    let surname = names::surname(rng);
    let name = names::person_with_surname(rng, surname, age >= 60);

    let high_rise = compound.subtypes.contains(&Subtype::HighRiseResidential);
    let per_floor = if high_rise { 6 } else { 4 };
    let households = compound.households.unwrap_or(100);
    let buildings = (households / (compound.floors * per_floor)).clamp(2, 80);
    let address = flats.claim_address(|| {
        format!(
            "{}{}号{}{:02}室",
            compound.address,
            rng.range(1, buildings),
            rng.range(1, compound.floors),
            rng.range(1, per_floor)
        )
    });
    let phone = if (age >= 90 && rng.percent(50)) || rng.percent(12) {
        None
    } else {
        Some(phones.next(rng))
    };

    let mut emergency_contacts = Vec::new();
    let family = match living_status {
        // 孤老 have no children to call on.
        LivingStatus::SolitaryElderly => rng.percent(40).then_some(Relation::Relative),
        _ if age < 70 => Some(if rng.percent(50) {
            Relation::Relative
        } else {
            Relation::Child
        }),
        _ => Some(if rng.percent(85) {
            Relation::Child
        } else {
            Relation::Relative
        }),
    };
    if let Some(relation) = family {
        let name = if relation == Relation::Child && rng.percent(70) {
            names::person_with_surname(rng, surname, false)
        } else {
            names::person(rng, false)
        };
        emergency_contacts.push(EmergencyContact {
            name,
            relation,
            phone: phones.next(rng),
        });
    }
    if rng.percent(60) || emergency_contacts.is_empty() {
        let old = rng.percent(30);
        let name = names::person(rng, old);
        emergency_contacts.push(EmergencyContact {
            name,
            relation: Relation::BuildingLeader,
            phone: phones.next(rng),
        });
    }
    if rng.percent(35) {
        let old = rng.percent(40);
        let name = names::person(rng, old);
        emergency_contacts.push(EmergencyContact {
            name,
            relation: Relation::Neighbour,
            phone: phones.next(rng),
        });
    }

    let smoke_alarm = [
        SmokeAlarm::None,
        SmokeAlarm::Standalone,
        SmokeAlarm::Networked,
    ][rng.weighted(&[25, 50, 25])];
    let mobility_weights = if living_status == LivingStatus::Disabled {
        [25, 50, 25]
    } else if age >= 90 {
        [30, 50, 20]
    } else {
        [65, 30, 5]
    };
    let mobility = [
        Mobility::Independent,
        Mobility::Assisted,
        Mobility::Bedridden,
    ][rng.weighted(&mobility_weights)];

    KeyResident {
        id,
        community: compound.community.clone(),
        premises: compound.id.clone(),
        name,
        age,
        living_status,
        address,
        phone,
        emergency_contacts,
        smoke_alarm,
        mobility,
    }
}
