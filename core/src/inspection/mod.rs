//! Inspections (检查): one premises checked against one checklist version. This module holds the
//! record and the rules for editing and finishing it; `store` persists it. An inspection keeps
//! the checklist `(id, version)` and the item ids that applied when it started, so a later
//! checklist version or a change of the premises' subtypes never changes what it must answer.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::checklist::Checklist;
use crate::vocab::{GeoPoint, PhotoRef, string_enum};
use crate::{Error, Result};

/// Longest note accepted on an answer, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Most photos on one answer.
pub const MAX_PHOTOS_PER_ITEM: usize = 20;

string_enum! {
    /// The answer to one checklist item.
    pub enum AnswerResult {
        /// 合格 — no fault found.
        Pass = "pass",
        /// 不合格 — the fault is present: becomes a hazard when the inspection is finished.
        Fail = "fail",
        /// 不适用
        NotApplicable = "not_applicable",
    }
}

string_enum! {
    /// Whether an inspection is still being filled in.
    pub enum InspectionStatus {
        /// Being filled in.
        InProgress = "in_progress",
        /// Finished: read-only.
        Finished = "finished",
    }
}

/// What is recorded against one item. A photo may be attached before the result is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Answer {
    /// The result, once chosen.
    pub result: Option<AnswerResult>,
    /// The inspector's note (scalar text, replaced whole: one person writes it).
    pub note: Option<String>,
    /// Evidence photos.
    pub photos: Vec<PhotoRef>,
    /// Who answered last.
    pub answered_by: String,
    /// When (device clock, ms).
    pub answered_at_ms: i64,
}

/// An inspection record: one automerge document each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Inspection {
    /// Document format version.
    pub schema: u32,
    /// Stable id.
    pub id: String,
    /// The premises inspected.
    pub premises: String,
    /// Checklist id used.
    pub checklist: String,
    /// Checklist version used.
    pub checklist_version: u32,
    /// The checklist items that applied at start, in form order.
    pub items: Vec<String>,
    /// User who inspects.
    pub inspector: String,
    /// Device it was started on.
    pub device: String,
    /// Start time (device clock, ms; display only).
    pub started_at_ms: i64,
    /// Finish time (device clock, ms), once finished.
    pub finished_at_ms: Option<i64>,
    /// Where it was started.
    pub start_location: Option<GeoPoint>,
    /// Where it was finished.
    pub finish_location: Option<GeoPoint>,
    /// In progress or finished.
    pub status: InspectionStatus,
    /// Answers by item id.
    pub answers: BTreeMap<String, Answer>,
    /// Hazards created when it was finished (one per failed item).
    pub hazards: Vec<String>,
}

/// Current document format of inspections.
pub const SCHEMA: u32 = 1;

/// One change to the answer of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerEdit {
    /// Set the result and the note (a blank note is no note).
    Result {
        /// The result.
        result: AnswerResult,
        /// The note.
        note: Option<String>,
    },
    /// Add a photo reference (a photo already there is not added twice).
    AttachPhoto(PhotoRef),
    /// Remove the photo with this SHA-256; `NotFound` if it is not there.
    RemovePhoto(String),
}

impl AnswerEdit {
    /// The commit message of the change (ids only, no personal data).
    pub fn message(&self, item_id: &str) -> String {
        match self {
            AnswerEdit::Result { .. } => format!("answer {item_id}"),
            AnswerEdit::AttachPhoto(_) => format!("photo {item_id}"),
            AnswerEdit::RemovePhoto(_) => format!("unphoto {item_id}"),
        }
    }

    /// Checks the edit's own data (note length, photo hash and location).
    pub fn validate(&self) -> Result<()> {
        match self {
            AnswerEdit::Result { note: Some(n), .. } if n.chars().count() > MAX_NOTE_CHARS => {
                Err(Error::invalid(
                    "note",
                    format!("is longer than {MAX_NOTE_CHARS} characters"),
                ))
            }
            AnswerEdit::AttachPhoto(photo) => photo.validate(),
            _ => Ok(()),
        }
    }

    /// The answer after this edit, from the current one (`None`: nothing recorded yet).
    pub fn apply(self, current: Option<Answer>, by: &str, at_ms: i64) -> Result<Answer> {
        self.validate()?;
        let mut answer = current.unwrap_or(Answer {
            result: None,
            note: None,
            photos: Vec::new(),
            answered_by: String::new(),
            answered_at_ms: 0,
        });
        match self {
            AnswerEdit::Result { result, note } => {
                answer.result = Some(result);
                answer.note = note.filter(|n| !n.trim().is_empty());
            }
            AnswerEdit::AttachPhoto(photo) => {
                if answer.photos.iter().any(|p| p.sha256 == photo.sha256) {
                    return Ok(answer);
                }
                if answer.photos.len() >= MAX_PHOTOS_PER_ITEM {
                    return Err(Error::invalid(
                        "photo",
                        format!("an item holds at most {MAX_PHOTOS_PER_ITEM} photos"),
                    ));
                }
                answer.photos.push(photo);
            }
            AnswerEdit::RemovePhoto(sha256) => {
                let before = answer.photos.len();
                answer.photos.retain(|p| p.sha256 != sha256);
                if answer.photos.len() == before {
                    return Err(Error::not_found("photo", sha256));
                }
            }
        }
        answer.answered_by = by.to_string();
        answer.answered_at_ms = at_ms;
        Ok(answer)
    }
}

/// Fails unless `item_id` of inspection `id` may be edited: the inspection is in progress and
/// the item is one of those that applied when it started.
pub fn check_editable(
    id: &str,
    status: InspectionStatus,
    items: &[String],
    item_id: &str,
) -> Result<()> {
    if status == InspectionStatus::Finished {
        return Err(Error::InspectionFinished(id.to_string()));
    }
    if !items.iter().any(|i| i == item_id) {
        return Err(Error::UnknownItem {
            inspection_id: id.to_string(),
            item_id: item_id.to_string(),
        });
    }
    Ok(())
}

impl Inspection {
    /// Applies one edit to one item's answer.
    pub fn edit(&mut self, item_id: &str, edit: AnswerEdit, by: &str, at_ms: i64) -> Result<()> {
        check_editable(&self.id, self.status, &self.items, item_id)?;
        let answer = edit.apply(self.answers.get(item_id).cloned(), by, at_ms)?;
        self.answers.insert(item_id.to_string(), answer);
        Ok(())
    }

    /// Records the result and note of an item.
    pub fn answer(
        &mut self,
        item_id: &str,
        result: AnswerResult,
        note: Option<String>,
        by: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.edit(item_id, AnswerEdit::Result { result, note }, by, at_ms)
    }

    /// Adds a photo reference to an item (a photo already there is not added twice).
    pub fn attach_photo(
        &mut self,
        item_id: &str,
        photo: PhotoRef,
        by: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.edit(item_id, AnswerEdit::AttachPhoto(photo), by, at_ms)
    }

    /// Removes a photo reference from an item; `NotFound` if it is not there.
    pub fn remove_photo(
        &mut self,
        item_id: &str,
        sha256: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.edit(
            item_id,
            AnswerEdit::RemovePhoto(sha256.to_string()),
            by,
            at_ms,
        )
    }

    /// Checks the inspection can be finished against its checklist version: every required
    /// item answered, every failed item that needs a photo has one.
    pub fn check_complete(&self, checklist: &Checklist) -> Result<()> {
        if self.status == InspectionStatus::Finished {
            return Err(Error::InspectionFinished(self.id.clone()));
        }
        let mut unanswered = Vec::new();
        let mut missing_photos = Vec::new();
        for item_id in &self.items {
            let Some(item) = checklist.item(item_id) else {
                return Err(Error::corrupt(
                    &self.id,
                    format!(
                        "item {item_id} is not in checklist {} v{}",
                        self.checklist, self.checklist_version
                    ),
                ));
            };
            let answer = self.answers.get(item_id);
            match answer.and_then(|a| a.result) {
                None if item.required => unanswered.push(item_id.clone()),
                Some(AnswerResult::Fail)
                    if item.photo_required_on_fail
                        && answer.is_none_or(|a| a.photos.is_empty()) =>
                {
                    missing_photos.push(item_id.clone())
                }
                _ => {}
            }
        }
        if unanswered.is_empty() && missing_photos.is_empty() {
            Ok(())
        } else {
            Err(Error::IncompleteInspection {
                inspection_id: self.id.clone(),
                unanswered,
                missing_photos,
            })
        }
    }

    /// The items answered `fail`, in form order.
    pub fn failed_items(&self) -> impl Iterator<Item = (&String, &Answer)> {
        self.items.iter().filter_map(|id| {
            self.answers
                .get(id)
                .filter(|a| a.result == Some(AnswerResult::Fail))
                .map(|a| (id, a))
        })
    }

    /// Counts of (answered, failed) items.
    pub fn counts(&self) -> (u32, u32) {
        let mut answered = 0;
        let mut failed = 0;
        for id in &self.items {
            match self.answers.get(id).and_then(|a| a.result) {
                Some(AnswerResult::Fail) => {
                    answered += 1;
                    failed += 1;
                }
                Some(_) => answered += 1,
                None => {}
            }
        }
        (answered, failed)
    }
}

/// A summary row for lists, read from the store's query columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectionSummary {
    /// Inspection id.
    pub id: String,
    /// Premises id.
    pub premises: String,
    /// Checklist id.
    pub checklist: String,
    /// Checklist version.
    pub checklist_version: u32,
    /// Inspector's user id.
    pub inspector: String,
    /// Status.
    pub status: InspectionStatus,
    /// Start (device clock, ms).
    pub started_at_ms: i64,
    /// Finish (device clock, ms).
    pub finished_at_ms: Option<i64>,
    /// Items that apply.
    pub items: u32,
    /// Items answered.
    pub answered: u32,
    /// Items failed.
    pub failed: u32,
}

/// Filters for the inspection history. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only this premises.
    pub premises: Option<String>,
    /// Only this inspector.
    pub inspector: Option<String>,
    /// Only this status.
    pub status: Option<InspectionStatus>,
    /// Started at or after (device clock, ms).
    pub since_ms: Option<i64>,
    /// Started before (device clock, ms).
    pub until_ms: Option<i64>,
    /// At most this many rows (default 200, at most 5,000).
    pub limit: Option<u32>,
    /// Skip this many rows.
    pub offset: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::{ChecklistGroup, ChecklistItem, Coverage, Period};
    use crate::hazard::Severity;
    use crate::premises::{Category, PremisesKind};
    use crate::vocab::Localized;

    fn text(s: &str) -> Localized {
        Localized {
            zh: s.into(),
            en: s.into(),
        }
    }

    fn item(id: &str, photo: bool, required: bool) -> ChecklistItem {
        ChecklistItem {
            id: id.into(),
            group: "g".into(),
            text: text(id),
            severity: Severity::General,
            photo_required_on_fail: photo,
            required,
            only_for: vec![],
            gb35181: vec![],
            source: "test".into(),
            included_from: None,
        }
    }

    fn checklist() -> Checklist {
        Checklist {
            id: "c".into(),
            version: 1,
            category: Category::StreetShop,
            title: text("c"),
            applies_to: vec![PremisesKind::StreetShop],
            coverage: Coverage {
                every: Period::Month,
                patrol: None,
            },
            groups: vec![ChecklistGroup {
                id: "g".into(),
                title: text("g"),
            }],
            items: vec![
                item("a", true, true),
                item("b", false, true),
                item("c", false, false),
            ],
        }
    }

    fn inspection() -> Inspection {
        Inspection {
            schema: SCHEMA,
            id: "insp.1".into(),
            premises: "prem.1".into(),
            checklist: "c".into(),
            checklist_version: 1,
            items: vec!["a".into(), "b".into(), "c".into()],
            inspector: "u".into(),
            device: "d".into(),
            started_at_ms: 1,
            finished_at_ms: None,
            start_location: None,
            finish_location: None,
            status: InspectionStatus::InProgress,
            answers: BTreeMap::new(),
            hazards: vec![],
        }
    }

    fn photo() -> PhotoRef {
        PhotoRef {
            sha256: "ab".repeat(32),
            captured_at_ms: None,
            location: None,
        }
    }

    #[test]
    fn finishing_needs_required_answers_and_photos_of_failed_items() {
        let c = checklist();
        let mut i = inspection();
        match i.check_complete(&c) {
            Err(Error::IncompleteInspection { unanswered, .. }) => {
                assert_eq!(unanswered, ["a", "b"])
            }
            other => panic!("{other:?}"),
        }
        i.answer("a", AnswerResult::Fail, None, "u", 2).unwrap();
        i.answer("b", AnswerResult::NotApplicable, None, "u", 2)
            .unwrap();
        match i.check_complete(&c) {
            Err(Error::IncompleteInspection {
                unanswered,
                missing_photos,
                ..
            }) => {
                assert!(unanswered.is_empty());
                assert_eq!(missing_photos, ["a"]);
            }
            other => panic!("{other:?}"),
        }
        i.attach_photo("a", photo(), "u", 3).unwrap();
        i.check_complete(&c).unwrap();
        assert_eq!(i.counts(), (2, 1));
        assert_eq!(
            i.failed_items()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn a_photo_can_come_before_the_result_and_is_not_added_twice() {
        let mut i = inspection();
        i.attach_photo("b", photo(), "u", 1).unwrap();
        i.attach_photo("b", photo(), "u", 2).unwrap();
        assert_eq!(i.answers["b"].photos.len(), 1);
        assert_eq!(i.answers["b"].result, None);
        i.remove_photo("b", &photo().sha256, "u", 3).unwrap();
        assert!(matches!(
            i.remove_photo("b", &photo().sha256, "u", 3),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn edits_are_refused_on_unknown_items_and_finished_inspections() {
        let mut i = inspection();
        assert!(matches!(
            i.answer("zzz", AnswerResult::Pass, None, "u", 1),
            Err(Error::UnknownItem { .. })
        ));
        i.answer("a", AnswerResult::Pass, Some("  ".into()), "u", 1)
            .unwrap();
        assert_eq!(i.answers["a"].note, None, "a blank note is no note");
        i.status = InspectionStatus::Finished;
        assert!(matches!(
            i.answer("a", AnswerResult::Fail, None, "u", 1),
            Err(Error::InspectionFinished(_))
        ));
        assert!(matches!(
            i.attach_photo("a", photo(), "u", 1),
            Err(Error::InspectionFinished(_))
        ));
        assert!(matches!(
            i.check_complete(&checklist()),
            Err(Error::InspectionFinished(_))
        ));
    }

    #[test]
    fn too_many_photos_are_refused() {
        let mut i = inspection();
        for n in 0..MAX_PHOTOS_PER_ITEM {
            let p = PhotoRef {
                sha256: format!("{n:064x}"),
                captured_at_ms: None,
                location: None,
            };
            i.attach_photo("a", p, "u", 1).unwrap();
        }
        let extra = PhotoRef {
            sha256: "f".repeat(64),
            captured_at_ms: None,
            location: None,
        };
        assert!(matches!(
            i.attach_photo("a", extra, "u", 1),
            Err(Error::Invalid { .. })
        ));
    }
}
