//! Hazards on the device: direct reports and reading them back. Hazard drafts from failed items
//! are created by `inspections::finish_inspection`.

use rusqlite::{Transaction, params};

use super::premises::in_scope;
use super::record::{self, Author, RecordKind};
use super::{Store, index, require_user};
use crate::hazard::{Finding, Hazard, HazardOrigin, HazardSummary, NewHazard};
use crate::inspection::{MAX_NOTE_CHARS, MAX_PHOTOS_PER_ITEM};
use crate::vocab::{Localized, validate_id};
use crate::{Error, Result};

/// Writes a new hazard's document and its query row (same transaction as the caller's).
pub(super) fn create_hazard(
    tx: &Transaction<'_>,
    author: &Author<'_>,
    hazard: &Hazard,
    message: &str,
) -> Result<()> {
    record::create(tx, RecordKind::Hazard, &hazard.id, hazard, author, message)?;
    index::hazard_row(tx, &hazard.id, hazard)
}

impl Store {
    /// Reports a hazard directly (without an inspection); it starts as a draft (discovered).
    pub fn report_hazard(&self, new: NewHazard) -> Result<Hazard> {
        validate_id("premises_id", &new.premises)?;
        let description = new.description.trim().to_string();
        if description.is_empty() {
            return Err(Error::invalid("description", "must not be empty"));
        }
        if description.chars().count() > MAX_NOTE_CHARS {
            return Err(Error::invalid(
                "description",
                format!("is longer than {MAX_NOTE_CHARS} characters"),
            ));
        }
        if new.photos.len() > MAX_PHOTOS_PER_ITEM {
            return Err(Error::invalid(
                "photos",
                format!("at most {MAX_PHOTOS_PER_ITEM}"),
            ));
        }
        for p in &new.photos {
            p.validate()?;
        }
        if let Some(l) = &new.location {
            l.validate()?;
        }
        self.write(|tx| {
            let user = require_user(tx)?;
            if !user.role.may_report_hazard() {
                return Err(Error::Forbidden(format!(
                    "role {} does not report hazards",
                    user.role
                )));
            }
            if !in_scope(tx, &user.scope, &new.premises)? {
                if record::exists(tx, &new.premises)? {
                    return Err(Error::Forbidden(format!(
                        "premises {} is outside the user's scope",
                        new.premises
                    )));
                }
                return Err(Error::not_found("premises", &new.premises));
            }
            let author = Author::device(&self.actor);
            let finding = Finding {
                premises: new.premises.clone(),
                origin: HazardOrigin::default(),
                severity: new.severity,
                title: Localized {
                    zh: description.clone(),
                    en: description.clone(),
                },
                note: None,
                photos: new.photos.clone(),
                location: new.location,
            };
            let hazard = Hazard::discovered(finding, &user.id, &self.device_id, author.time_ms);
            create_hazard(tx, &author, &hazard, "report")?;
            Ok(hazard)
        })
    }

    /// One hazard record.
    pub fn hazard(&self, id: &str) -> Result<Hazard> {
        validate_id("hazard_id", id)?;
        self.read(|tx| record::get(tx, RecordKind::Hazard, id))
    }

    /// Hazards of one premises, newest first.
    pub fn list_hazards(&self, premises_id: &str) -> Result<Vec<HazardSummary>> {
        validate_id("premises_id", premises_id)?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, premises_id, inspection_id, item_id, status, severity, title_zh, title_en, discovered_ms
                 FROM hazard WHERE premises_id = ?1 ORDER BY discovered_ms DESC, id",
            )?;
            let rows = stmt.query_map(params![premises_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, premises, inspection, item, status, severity, zh, en, discovered) = row?;
                out.push(HazardSummary {
                    status: status.parse().map_err(|_| Error::corrupt(&id, "hazard status"))?,
                    severity: severity.parse().map_err(|_| Error::corrupt(&id, "hazard severity"))?,
                    id,
                    premises,
                    inspection,
                    item,
                    title: Localized { zh, en },
                    discovered_ms: discovered,
                });
            }
            Ok(out)
        })
    }
}
