//! Importing reference data and the district into the store: GB 35181 versions, checklist
//! versions, and the street's organisation, premises, key residents and users. Imports are
//! idempotent: a record already there with the same content is left alone.

use std::path::Path;

use automerge::ActorId;
use autosurgeon::Reconcile;
use rusqlite::Transaction;

use super::Store;
use super::index::materialize;
use super::record::{self, Author, RecordKind};
use crate::checklist::{self, Checklist};
use crate::district::{self, District};
use crate::hydrate::FromDoc;
use crate::standard::{self, Standard};
use crate::{Error, Result};

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Records created.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records already there with the same content.
    pub unchanged: u64,
}

impl ImportReport {
    fn add(&mut self, other: ImportReport) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// Outcome of importing one record.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Creates the record with the fixture actor (identical bytes on every device), or reconciles a
/// changed value into the existing document with this device's actor.
fn upsert<T>(
    tx: &Transaction<'_>,
    actor: &ActorId,
    kind: RecordKind,
    id: &str,
    value: &T,
) -> Result<Outcome>
where
    T: Reconcile + FromDoc + PartialEq,
{
    let outcome = if record::exists(tx, id)? {
        let doc = record::load(tx, kind, id)?;
        let old: T = record::hydrate(id, &doc)?;
        if &old == value {
            return Ok(Outcome::Unchanged);
        }
        record::put(tx, kind, id, doc, value, &Author::device(actor), "import")?;
        Outcome::Updated
    } else {
        let fixture_actor = record::fixture_actor();
        let author = Author {
            actor: &fixture_actor,
            time_ms: 0,
        };
        // The server seeds from the same fixtures and holds byte-identical documents (same
        // actor, time 0, so the same change hashes): nothing to push.
        record::create_acknowledged(tx, kind, id, value, &author, "import")?;
        Outcome::Created
    };
    let doc = record::load(tx, kind, id)?;
    materialize(tx, kind, id, &doc)?;
    Ok(outcome)
}

fn tally(report: &mut ImportReport, o: Outcome) {
    match o {
        Outcome::Created => report.created += 1,
        Outcome::Updated => report.updated += 1,
        Outcome::Unchanged => report.unchanged += 1,
    }
}

impl Store {
    /// Imports GB 35181 versions (a changed version is updated: its elements get verified over time).
    pub fn import_standards(&self, standards: &[Standard]) -> Result<ImportReport> {
        self.write(|tx| {
            let mut report = ImportReport::default();
            for s in standards {
                tally(
                    &mut report,
                    upsert(tx, &self.actor, RecordKind::Standard, &s.record_id(), s)?,
                );
            }
            Ok(report)
        })
    }

    /// Imports checklist versions. A version already imported with different content is refused
    /// (`ChecklistVersionConflict`): published versions never change.
    pub fn import_checklists(&self, checklists: &[Checklist]) -> Result<ImportReport> {
        self.write(|tx| {
            let mut report = ImportReport::default();
            for c in checklists {
                let id = c.record_id();
                if record::exists(tx, &id)? {
                    let old: Checklist = record::get(tx, RecordKind::Checklist, &id)?;
                    if &old != c {
                        return Err(Error::ChecklistVersionConflict {
                            id: c.id.clone(),
                            version: c.version,
                        });
                    }
                }
                tally(
                    &mut report,
                    upsert(tx, &self.actor, RecordKind::Checklist, &id, c)?,
                );
            }
            Ok(report)
        })
    }

    /// Imports a street: organisation, premises, key residents and users, in one transaction.
    pub fn import_district(&self, d: &District) -> Result<ImportReport> {
        self.write(|tx| {
            let mut r = ImportReport::default();
            let a = &self.actor;
            tally(
                &mut r,
                upsert(tx, a, RecordKind::Street, &d.street.id, &d.street)?,
            );
            for x in &d.communities {
                tally(&mut r, upsert(tx, a, RecordKind::Community, &x.id, x)?);
            }
            for x in &d.grids {
                tally(&mut r, upsert(tx, a, RecordKind::Grid, &x.id, x)?);
            }
            for x in &d.micro_stations {
                tally(&mut r, upsert(tx, a, RecordKind::MicroStation, &x.id, x)?);
            }
            for x in &d.departments {
                tally(&mut r, upsert(tx, a, RecordKind::Department, &x.id, x)?);
            }
            for x in &d.premises {
                tally(&mut r, upsert(tx, a, RecordKind::Premises, &x.id, x)?);
            }
            for x in &d.key_residents {
                tally(&mut r, upsert(tx, a, RecordKind::KeyResident, &x.id, x)?);
            }
            for x in &d.users {
                tally(&mut r, upsert(tx, a, RecordKind::User, &x.id, x)?);
            }
            Ok(r)
        })
    }

    /// Loads and imports a whole fixtures folder (`standards/`, `checklists/`, `district/`),
    /// validating every file first: nothing is imported unless everything is valid.
    pub fn import_fixtures(&self, root: &Path) -> Result<ImportReport> {
        let standards = standard::load_dir(&root.join("standards"))?;
        let checklists = checklist::load_dir(&root.join("checklists"), &standards)?;
        let district = district::load_dir(&root.join("district"))?;
        let mut report = self.import_standards(&standards)?;
        report.add(self.import_checklists(&checklists)?);
        report.add(self.import_district(&district)?);
        Ok(report)
    }
}
