//! Inspections on the device: start with the current checklist version, answer items, attach
//! photo references, finish (creating a hazard draft per failed item in the same transaction),
//! and read them back. Every edit is one transaction on one document.

use rusqlite::{OptionalExtension, Transaction, params};

use super::premises::{in_scope, page};
use super::record::{self, Author, RecordKind};
use super::{Store, index, require_user};
use crate::access::User;
use crate::checklist::{self, Checklist};
use crate::hazard::{Finding, Hazard, HazardOrigin};
use crate::inspection::{
    Answer, AnswerEdit, AnswerResult, HistoryFilter, Inspection, InspectionStatus,
    InspectionSummary, SCHEMA, check_editable,
};
use crate::premises::Premises;
use crate::vocab::{GeoPoint, PhotoRef, new_id, now_ms, validate_id};
use crate::{Error, Result};

/// What finishing an inspection produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishReport {
    /// Hazard drafts created, one per failed item, in form order.
    pub hazards: Vec<String>,
}

/// The signed-in user, who must be allowed to inspect this premises.
fn inspector_for(tx: &Transaction<'_>, premises_id: &str) -> Result<User> {
    let user = require_user(tx)?;
    user.require_inspector()?;
    if !in_scope(tx, &user.scope, premises_id)? {
        if record::exists(tx, premises_id)? {
            return Err(Error::Forbidden(format!(
                "premises {premises_id} is outside the scope {} {}",
                user.scope.kind, user.scope.id
            )));
        }
        return Err(Error::not_found("premises", premises_id));
    }
    Ok(user)
}

/// The premises of an inspection, from its query row.
fn premises_of(tx: &Transaction<'_>, inspection_id: &str) -> Result<String> {
    tx.query_row(
        "SELECT premises_id FROM inspection WHERE id = ?1",
        [inspection_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::not_found("inspection", inspection_id))
}

/// The newest imported checklist version for a premises kind.
fn current_checklist(tx: &Transaction<'_>, premises: &Premises) -> Result<Checklist> {
    let found: Option<(String, u32)> = tx
        .query_row(
            "SELECT id, version FROM checklist WHERE applies_to LIKE ?1 ORDER BY version DESC, id LIMIT 1",
            [format!("%,{},%", premises.kind.as_str())],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, version)) = found else {
        return Err(Error::NoChecklist {
            kind: premises.kind.as_str().to_string(),
        });
    };
    record::get(
        tx,
        RecordKind::Checklist,
        &checklist::record_id(&id, version),
    )
}

fn validate_location(location: Option<&GeoPoint>) -> Result<()> {
    location.map_or(Ok(()), GeoPoint::validate)
}

impl Store {
    /// Starts an inspection of a premises with the newest checklist version for its kind.
    /// The items that apply (by kind and subtypes) are fixed now.
    pub fn start_inspection(
        &self,
        premises_id: &str,
        location: Option<GeoPoint>,
    ) -> Result<Inspection> {
        validate_id("premises_id", premises_id)?;
        validate_location(location.as_ref())?;
        self.write(|tx| {
            let user = inspector_for(tx, premises_id)?;
            let premises: Premises = record::get(tx, RecordKind::Premises, premises_id)?;
            let checklist = current_checklist(tx, &premises)?;
            let now = now_ms();
            let inspection = Inspection {
                schema: SCHEMA,
                id: new_id("insp"),
                premises: premises.id.clone(),
                checklist: checklist.id.clone(),
                checklist_version: checklist.version,
                items: checklist
                    .items_for(&premises)
                    .map(|i| i.id.clone())
                    .collect(),
                inspector: user.id,
                device: self.device_id.clone(),
                started_at_ms: now,
                finished_at_ms: None,
                start_location: location,
                finish_location: None,
                status: InspectionStatus::InProgress,
                answers: Default::default(),
                hazards: Vec::new(),
            };
            let author = Author {
                actor: &self.actor,
                time_ms: now,
            };
            record::create(
                tx,
                RecordKind::Inspection,
                &inspection.id,
                &inspection,
                &author,
                "start",
            )?;
            index::inspection_row(tx, &inspection.id, &inspection)?;
            Ok(inspection)
        })
    }

    /// Applies one edit to one item's answer, in one transaction. Only that answer is
    /// hydrated and reconciled; the query row's counts move by the difference.
    fn edit_answer(&self, inspection_id: &str, item_id: &str, edit: AnswerEdit) -> Result<()> {
        validate_id("inspection_id", inspection_id)?;
        validate_id("item_id", item_id)?;
        edit.validate()?;
        self.write(|tx| {
            let premises_id = premises_of(tx, inspection_id)?;
            let user = inspector_for(tx, &premises_id)?;
            let author = Author::device(&self.actor);
            let message = edit.message(item_id);
            let (old, new) = record::update_entry(
                tx,
                RecordKind::Inspection,
                inspection_id,
                &author,
                &message,
                ("answers", item_id),
                |doc, current: Option<Answer>| {
                    let status: InspectionStatus = record::field(doc, inspection_id, "status")?;
                    let items: Vec<String> = record::field(doc, inspection_id, "items")?;
                    check_editable(inspection_id, status, &items, item_id)?;
                    edit.apply(current, &user.id, author.time_ms)
                },
            )?;
            index::answer_counts(tx, inspection_id, old.and_then(|a| a.result), new.result)
        })
    }

    /// Records the result (and note) of one item.
    pub fn answer(
        &self,
        inspection_id: &str,
        item_id: &str,
        result: AnswerResult,
        note: Option<String>,
    ) -> Result<()> {
        self.edit_answer(inspection_id, item_id, AnswerEdit::Result { result, note })
    }

    /// Attaches a photo reference (the photo itself is stored outside the documents).
    pub fn attach_photo(&self, inspection_id: &str, item_id: &str, photo: PhotoRef) -> Result<()> {
        self.edit_answer(inspection_id, item_id, AnswerEdit::AttachPhoto(photo))
    }

    /// Removes a photo reference from an item.
    pub fn remove_photo(&self, inspection_id: &str, item_id: &str, sha256: &str) -> Result<()> {
        self.edit_answer(
            inspection_id,
            item_id,
            AnswerEdit::RemovePhoto(sha256.to_string()),
        )
    }

    /// Finishes an inspection: every required item answered, every failed item that needs a
    /// photo has one. Each failed item becomes a hazard draft (status discovered), written in
    /// the same transaction as the finished inspection.
    pub fn finish_inspection(
        &self,
        inspection_id: &str,
        location: Option<GeoPoint>,
    ) -> Result<FinishReport> {
        validate_id("inspection_id", inspection_id)?;
        validate_location(location.as_ref())?;
        self.write(|tx| {
            let premises_id = premises_of(tx, inspection_id)?;
            let user = inspector_for(tx, &premises_id)?;
            let doc = record::load(tx, RecordKind::Inspection, inspection_id)?;
            let mut inspection: Inspection = record::hydrate(inspection_id, &doc)?;
            let checklist: Checklist = record::get(
                tx,
                RecordKind::Checklist,
                &checklist::record_id(&inspection.checklist, inspection.checklist_version),
            )?;
            inspection.check_complete(&checklist)?;

            let author = Author::device(&self.actor);
            let mut hazards = Vec::new();
            for (item_id, answer) in inspection.failed_items() {
                let item = checklist.item(item_id).ok_or_else(|| {
                    Error::corrupt(
                        inspection_id,
                        format!("item {item_id} not in its checklist"),
                    )
                })?;
                let finding = Finding {
                    premises: inspection.premises.clone(),
                    origin: HazardOrigin {
                        inspection: Some(inspection.id.clone()),
                        item: Some(item_id.clone()),
                        checklist: Some(inspection.checklist.clone()),
                        checklist_version: Some(inspection.checklist_version),
                    },
                    severity: item.severity,
                    title: item.text.clone(),
                    note: answer.note.clone(),
                    photos: answer.photos.clone(),
                    location: location.or(inspection.start_location),
                    elements: item.gb35181.clone(),
                    recurrence: super::hazards::recurrence_for(
                        tx,
                        &inspection.premises,
                        item_id,
                        author.time_ms,
                    )?,
                };
                let hazard = Hazard::discovered(finding, &user, &self.device_id, author.time_ms);
                super::hazards::create_hazard(tx, &author, &hazard, "discover")?;
                hazards.push(hazard.id);
            }
            inspection.status = InspectionStatus::Finished;
            inspection.finished_at_ms = Some(author.time_ms);
            inspection.finish_location = location;
            inspection.hazards = hazards.clone();
            record::put(
                tx,
                RecordKind::Inspection,
                inspection_id,
                doc,
                &inspection,
                &author,
                "finish",
            )?;
            index::inspection_row(tx, inspection_id, &inspection)?;
            Ok(FinishReport { hazards })
        })
    }

    /// One inspection record.
    pub fn inspection(&self, id: &str) -> Result<Inspection> {
        validate_id("inspection_id", id)?;
        self.read(|tx| record::get(tx, RecordKind::Inspection, id))
    }

    /// A checklist version (for rendering the form of an inspection started on it).
    pub fn checklist(&self, id: &str, version: u32) -> Result<Checklist> {
        validate_id("checklist_id", id)?;
        self.read(|tx| {
            record::get(
                tx,
                RecordKind::Checklist,
                &checklist::record_id(id, version),
            )
        })
    }

    /// The checklist version a new inspection of this premises would use.
    pub fn current_checklist_for(&self, premises_id: &str) -> Result<Checklist> {
        validate_id("premises_id", premises_id)?;
        self.read(|tx| {
            let premises: Premises = record::get(tx, RecordKind::Premises, premises_id)?;
            current_checklist(tx, &premises)
        })
    }

    /// Inspections of one premises, newest first.
    pub fn list_inspections(&self, premises_id: &str) -> Result<Vec<InspectionSummary>> {
        validate_id("premises_id", premises_id)?;
        self.inspection_history(&HistoryFilter {
            premises: Some(premises_id.to_string()),
            ..Default::default()
        })
    }

    /// Inspection history across premises and inspectors, newest first.
    pub fn inspection_history(&self, filter: &HistoryFilter) -> Result<Vec<InspectionSummary>> {
        let (limit, offset) = page(filter.limit, filter.offset)?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, premises_id, checklist_id, checklist_version, inspector_id, status,
                        started_ms, finished_ms, items, answered, failed
                 FROM inspection
                 WHERE (?1 IS NULL OR premises_id = ?1) AND (?2 IS NULL OR inspector_id = ?2)
                   AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR started_ms >= ?4)
                   AND (?5 IS NULL OR started_ms < ?5)
                 ORDER BY started_ms DESC, id LIMIT ?6 OFFSET ?7",
            )?;
            let rows = stmt.query_map(
                params![
                    filter.premises,
                    filter.inspector,
                    filter.status.map(|s| s.as_str()),
                    filter.since_ms,
                    filter.until_ms,
                    limit,
                    offset
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, u32>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, u32>(8)?,
                        r.get::<_, u32>(9)?,
                        r.get::<_, u32>(10)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (
                    id,
                    premises,
                    checklist,
                    checklist_version,
                    inspector,
                    status,
                    started,
                    finished,
                    items,
                    answered,
                    failed,
                ) = row?;
                let status = status
                    .parse()
                    .map_err(|_| Error::corrupt(&id, "inspection status"))?;
                out.push(InspectionSummary {
                    id,
                    premises,
                    checklist,
                    checklist_version,
                    inspector,
                    status,
                    started_at_ms: started,
                    finished_at_ms: finished,
                    items,
                    answered,
                    failed,
                });
            }
            Ok(out)
        })
    }

    /// The change history of any record (who changed it, from which device, when, what).
    pub fn record_history(&self, kind: RecordKind, id: &str) -> Result<Vec<record::ChangeInfo>> {
        validate_id("id", id)?;
        self.read(|tx| record::history(tx, kind, id))
    }
}
