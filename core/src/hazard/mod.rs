//! Hazards (隐患): a finding that needs rectification, created from a failed checklist item or
//! reported directly. This module holds the record and its event list; the full lifecycle
//! (file, dispatch, handle, verify, close, with the concurrency decision table) is built on the
//! same append-only event list.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::vocab::{GeoPoint, Localized, PhotoRef, string_enum};

string_enum! {
    /// How serious a finding looks. On a checklist item it is a hint; a major hazard is never
    /// declared by the software (GB 35181 needs a collective determination).
    pub enum Severity {
        /// 一般隐患
        General = "general",
        /// 较大 / 突出隐患
        Serious = "serious",
        /// 疑似重大火灾隐患 — matches GB 35181 elements; goes to the office for determination.
        MajorCandidate = "major_candidate",
    }
}

string_enum! {
    /// Where a hazard is in the closed loop 发现 → 立案 → 派遣 → 处置 → 核查 → 结案.
    pub enum HazardStatus {
        /// 发现 — found in the field; a draft until the office files it.
        Discovered = "discovered",
        /// 立案
        Filed = "filed",
        /// 派遣
        Dispatched = "dispatched",
        /// 处置
        Handled = "handled",
        /// 核查
        Verified = "verified",
        /// 结案
        Closed = "closed",
    }
}

impl HazardStatus {
    /// Whether the case is still open.
    pub fn is_open(self) -> bool {
        self != HazardStatus::Closed
    }
}

string_enum! {
    /// What happened to a hazard: one entry of its append-only event list.
    pub enum HazardEventKind {
        /// Found (by an inspection or a direct report).
        Discovered = "discovered",
    }
}

/// One event of a hazard's history. Events are only ever appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct HazardEvent {
    /// Unique id of the event (merging replicas keeps every event once).
    #[key]
    pub id: String,
    /// What happened.
    pub kind: HazardEventKind,
    /// User who did it.
    pub by: String,
    /// Device it was recorded on.
    pub device: String,
    /// Device clock time in ms (display only).
    pub at_ms: i64,
    /// Free note.
    pub note: Option<String>,
}

/// How a hazard came to be known (all `None` for a direct report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct HazardOrigin {
    /// The inspection that found it, if any.
    pub inspection: Option<String>,
    /// The checklist item that failed, if any.
    pub item: Option<String>,
    /// The checklist `(id, version)` the item belongs to.
    pub checklist: Option<String>,
    /// The checklist version.
    pub checklist_version: Option<u32>,
}

/// Current document format of hazards.
pub const SCHEMA: u32 = 1;

/// A hazard record: one automerge document each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Hazard {
    /// Document format version.
    pub schema: u32,
    /// Stable id.
    pub id: String,
    /// The premises it was found at.
    pub premises: String,
    /// Where it came from.
    pub origin: HazardOrigin,
    /// Severity hint at discovery.
    pub severity: Severity,
    /// What was found: the failed item's text, or the reporter's words (the same in both
    /// languages) for a direct report.
    pub title: Localized,
    /// The finder's note (scalar text, replaced whole).
    pub note: Option<String>,
    /// Evidence photos (the "before" photos).
    pub photos: Vec<PhotoRef>,
    /// Where it was found.
    pub location: Option<GeoPoint>,
    /// Who found it.
    pub reported_by: String,
    /// The history; the status is a fold over it.
    pub events: Vec<HazardEvent>,
}

/// What was found, as the finder records it; [`Hazard::discovered`] makes the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The premises.
    pub premises: String,
    /// Where it came from.
    pub origin: HazardOrigin,
    /// Severity hint.
    pub severity: Severity,
    /// What was found.
    pub title: Localized,
    /// The finder's note.
    pub note: Option<String>,
    /// Evidence photos.
    pub photos: Vec<PhotoRef>,
    /// Where.
    pub location: Option<GeoPoint>,
}

impl Hazard {
    /// A new hazard draft (status discovered) with its first event.
    pub fn discovered(finding: Finding, by: &str, device: &str, at_ms: i64) -> Hazard {
        Hazard {
            schema: SCHEMA,
            id: crate::vocab::new_id("hz"),
            premises: finding.premises,
            origin: finding.origin,
            severity: finding.severity,
            title: finding.title,
            note: finding.note,
            photos: finding.photos,
            location: finding.location,
            reported_by: by.to_string(),
            events: vec![HazardEvent {
                id: crate::vocab::new_id("ev"),
                kind: HazardEventKind::Discovered,
                by: by.to_string(),
                device: device.to_string(),
                at_ms,
                note: None,
            }],
        }
    }

    /// The current status, folded from the events.
    pub fn status(&self) -> HazardStatus {
        // Only discovery exists so far; later events advance the fold.
        HazardStatus::Discovered
    }
}

/// A summary row for lists, read from the store's query columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardSummary {
    /// Hazard id.
    pub id: String,
    /// Premises id.
    pub premises: String,
    /// Inspection that found it, if any.
    pub inspection: Option<String>,
    /// Failed checklist item, if any.
    pub item: Option<String>,
    /// Status.
    pub status: HazardStatus,
    /// Severity hint.
    pub severity: Severity,
    /// What was found.
    pub title: Localized,
    /// Discovery time (device clock, ms).
    pub discovered_ms: i64,
}

/// What a worker enters to report a hazard directly.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHazard {
    /// The premises.
    pub premises: String,
    /// What was found, in the reporter's words.
    pub description: String,
    /// Severity as judged by the reporter.
    pub severity: Severity,
    /// Evidence photos.
    pub photos: Vec<PhotoRef>,
    /// Where.
    pub location: Option<GeoPoint>,
}
