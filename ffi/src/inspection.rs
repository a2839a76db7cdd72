//! Inspections (检查) as the form and the history show them.

use std::collections::HashMap;

use firegrid_core::inspection as domain;

use crate::vocab::{GeoPoint, PhotoRef, map_all, mirror_enum};

mirror_enum! {
    /// The answer to one checklist item.
    AnswerResult = domain::AnswerResult {
        /// 合格
        Pass,
        /// 不合格 — becomes a hazard when the inspection is finished.
        Fail,
        /// 不适用
        NotApplicable,
    }
}

mirror_enum! {
    /// Whether an inspection is still being filled in.
    InspectionStatus = domain::InspectionStatus {
        /// Being filled in.
        InProgress,
        /// Finished: read-only.
        Finished,
    }
}

/// What is recorded against one item.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Answer {
    /// The result, once chosen (a photo may come first).
    pub result: Option<AnswerResult>,
    /// The inspector's note.
    pub note: Option<String>,
    /// Evidence photos.
    pub photos: Vec<PhotoRef>,
    /// Who answered last.
    pub answered_by: String,
    /// When (device clock, ms).
    pub answered_at_ms: i64,
}

impl From<domain::Answer> for Answer {
    fn from(a: domain::Answer) -> Self {
        Answer {
            result: a.result.map(Into::into),
            note: a.note,
            photos: map_all(a.photos),
            answered_by: a.answered_by,
            answered_at_ms: a.answered_at_ms,
        }
    }
}

/// An inspection record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Inspection {
    /// Stable id.
    pub id: String,
    /// The premises inspected.
    pub premises_id: String,
    /// Checklist id used.
    pub checklist_id: String,
    /// Checklist version used.
    pub checklist_version: u32,
    /// The item ids that apply, in form order.
    pub items: Vec<String>,
    /// User who inspects.
    pub inspector: String,
    /// Device it was started on.
    pub device: String,
    /// Start (device clock, ms; display only).
    pub started_at_ms: i64,
    /// Finish (device clock, ms), once finished.
    pub finished_at_ms: Option<i64>,
    /// Where it was started.
    pub start_location: Option<GeoPoint>,
    /// Where it was finished.
    pub finish_location: Option<GeoPoint>,
    /// In progress or finished.
    pub status: InspectionStatus,
    /// Answers by item id.
    pub answers: HashMap<String, Answer>,
    /// Hazards created when it was finished (one per failed item).
    pub hazards: Vec<String>,
}

impl From<domain::Inspection> for Inspection {
    fn from(i: domain::Inspection) -> Self {
        Inspection {
            id: i.id,
            premises_id: i.premises,
            checklist_id: i.checklist,
            checklist_version: i.checklist_version,
            items: i.items,
            inspector: i.inspector,
            device: i.device,
            started_at_ms: i.started_at_ms,
            finished_at_ms: i.finished_at_ms,
            start_location: i.start_location.map(Into::into),
            finish_location: i.finish_location.map(Into::into),
            status: i.status.into(),
            answers: i.answers.into_iter().map(|(k, v)| (k, v.into())).collect(),
            hazards: i.hazards,
        }
    }
}

/// An inspection row of a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InspectionSummary {
    /// Inspection id.
    pub id: String,
    /// Premises id.
    pub premises_id: String,
    /// Checklist id.
    pub checklist_id: String,
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

impl From<domain::InspectionSummary> for InspectionSummary {
    fn from(s: domain::InspectionSummary) -> Self {
        InspectionSummary {
            id: s.id,
            premises_id: s.premises,
            checklist_id: s.checklist,
            checklist_version: s.checklist_version,
            inspector: s.inspector,
            status: s.status.into(),
            started_at_ms: s.started_at_ms,
            finished_at_ms: s.finished_at_ms,
            items: s.items,
            answered: s.answered,
            failed: s.failed,
        }
    }
}

/// What finishing an inspection produced.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FinishReport {
    /// Hazard drafts created, one per failed item, in form order.
    pub hazards: Vec<String>,
}
