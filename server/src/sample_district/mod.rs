//! The sample street in `fixtures/district/`: a deterministic generator of fictional data.
//!
//! `firegrid-server sample-district --out fixtures/district` calls [`write_to`], which writes four
//! files in the formats of `fixtures/README.md` ("district/"): `street.json` (20 communities,
//! their grids, 8 micro fire stations, 5 departments), `premises.json` (1,500 premises of the
//! three categories), `key_residents.json` (300 people for home visits) and `users.json` (users of
//! every role with their scopes).
//!
//! The sample is modelled on Zhenru street (真如镇街道, Putuo district) but is fictional: every
//! name, address, person and phone number (`1390000xxxx`) is invented. It is deterministic: the
//! same seed always gives the same bytes, so the committed files can be checked against a fresh
//! run (see the tests). For that reason the module has its own small generator ([`rng::Rng`],
//! splitmix64) instead of the `rand` crate, whose sequences may change between versions, and
//! writes serde structs whose field order is the order in the file. Changing any table or draw
//! here changes the sample: regenerate the fixtures in the same change.

mod model;
mod names;
mod people;
mod premises;
mod rng;
mod street;
mod users;

#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use self::model::{KeyResidentsFile, PremisesFile, StreetFile, UsersFile};
use self::names::{Phones, Taken};
use self::rng::Rng;

/// The seed of the committed sample.
pub const DEFAULT_SEED: u64 = 20_261_129;

/// The generated sample, one value per file.
#[derive(Debug)]
struct District {
    street: StreetFile,
    premises: PremisesFile,
    key_residents: KeyResidentsFile,
    users: UsersFile,
}

fn generate(seed: u64) -> District {
    // Addresses and phone numbers are unique across all files.
    let mut addresses = Taken::default();
    let mut phones = Phones::default();
    let (street, layout) = street::generate(seed, &mut Rng::new(seed, "street"), &mut addresses);
    let premises = premises::generate(
        &mut Rng::new(seed, "premises"),
        &layout,
        &mut phones,
        &mut addresses,
    );
    let key_residents =
        people::generate(&mut Rng::new(seed, "key_residents"), &premises, &mut phones);
    let users = users::generate(&mut Rng::new(seed, "users"), &street);
    District {
        street,
        premises,
        key_residents,
        users,
    }
}

/// The files' names and contents: pretty JSON with a trailing newline.
fn render(district: &District) -> io::Result<[(&'static str, String); 4]> {
    Ok([
        ("street.json", pretty(&district.street)?),
        ("premises.json", pretty(&district.premises)?),
        ("key_residents.json", pretty(&district.key_residents)?),
        ("users.json", pretty(&district.users)?),
    ])
}

fn pretty(value: &impl Serialize) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Generates the sample for `seed` and writes its files into `dir` (created if missing, files
/// overwritten). Returns the number of files written.
pub fn write_to(dir: &Path, seed: u64) -> io::Result<usize> {
    let files = render(&generate(seed))?;
    fs::create_dir_all(dir)?;
    for (name, text) in &files {
        fs::write(dir.join(name), text)?;
    }
    Ok(files.len())
}
