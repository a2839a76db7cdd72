//! Hazards (隐患): a finding that needs rectification, created from a failed checklist item or
//! reported directly. This module holds the record and its append-only event list;
//! [`lifecycle`] folds the events into the case's state (the closed loop and its concurrency
//! decision table), [`rules`] holds the street's configurable rules (deadlines, recurrence,
//! suspected major hazards, focused supervision).

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::access::{Role, Scope};
use crate::vocab::{GeoPoint, Localized, PhotoRef, string_enum};

pub mod lifecycle;
pub mod rules;

pub use lifecycle::{
    CaseState, EventFlag, FlagReason, FoldContext, Listing, PhotoPair, SupervisionLevel, fold, may,
    photo_pairs, precedence,
};
pub use rules::HazardRules;

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
    /// How a hazard is rectified.
    pub enum Rectification {
        /// 当场整改 — fixed during the visit; the office verifies and closes.
        OnTheSpot = "on_the_spot",
        /// 限期整改 — fixed by a deadline set from the severity.
        ByDeadline = "by_deadline",
    }
}

string_enum! {
    /// What happened to a hazard: one entry of its append-only event list. Who may make
    /// which is [`lifecycle::may`]; what each does to the state is [`lifecycle::fold`].
    pub enum HazardEventKind {
        /// 发现 — found (by an inspection or a direct report); the document's first event.
        Discovered = "discovered",
        /// 立案 — the office files the case with a deadline.
        Filed = "filed",
        /// 派遣 — the office dispatches it to one or more departments (联合整治 if several).
        Dispatched = "dispatched",
        /// 整改报告 — a field worker records the fix (on the spot or by the deadline) with an
        /// after photo.
        FixReported = "fix_reported",
        /// 处置 — a department reports what it did, with evidence.
        Handled = "handled",
        /// 核查通过 — the office checked the fix (someone other than who reported it).
        Verified = "verified",
        /// 核查未通过 — back to handling, with the reason.
        VerificationFailed = "verification_failed",
        /// 结案 — closed after verification.
        Closed = "closed",
        /// 重新打开 — the hazard was found again.
        Reopened = "reopened",
        /// 调整整改期限 — the office changed the deadline.
        DeadlineSet = "deadline_set",
        /// 挂牌督办 — listed for supervision (street or district level).
        Listed = "listed",
        /// 督办进展 — a progress note on a listed case.
        ProgressNoted = "progress_noted",
        /// 摘牌 — delisted once closed and verified.
        Delisted = "delisted",
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
    /// Free note; for failures, reopenings and listings the reason.
    pub note: Option<String>,
    /// The events the author had seen (the heads of the event graph on their phone): the
    /// causal order the fold replays.
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub after: Vec<String>,
    /// The author's role when they made it (checked against the user at sync).
    #[autosurgeon(missing = "Option::default")]
    pub role: Option<Role>,
    /// The author's scope when they made it.
    #[autosurgeon(missing = "Option::default")]
    pub scope: Option<Scope>,
    /// Evidence: after photos of a fix, a department's report or a verification.
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub photos: Vec<PhotoRef>,
    /// Dispatch targets (department ids).
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub departments: Vec<String>,
    /// A deadline (filing, deadline change, failed verification, reopening) or a listing's
    /// target date, in ms.
    #[autosurgeon(missing = "Option::default")]
    pub deadline_ms: Option<i64>,
    /// A listing's level.
    #[autosurgeon(missing = "Option::default")]
    pub level: Option<SupervisionLevel>,
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

/// Current document format of hazards. 2 added the lifecycle fields (events' `after`, role,
/// scope, evidence, departments, dates, level; the hazard's elements and recurrence); a
/// version-1 document reads as version 2 with those fields empty.
pub const SCHEMA: u32 = 2;

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
    /// GB 35181 element references of the failed item (`"<version>:<code>"`), copied at
    /// discovery so the suspected-major rules work on the hazard alone.
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub elements: Vec<String>,
    /// The earlier closed case at the same premises and item this one recurs (反复回潮), if any.
    #[autosurgeon(missing = "Option::default")]
    pub recurrence_of: Option<String>,
    /// How many cases in a row the recurrence chain holds before this one (0: not recurring).
    #[autosurgeon(missing = "u32::default")]
    #[serde(default)]
    pub recurrence: u32,
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
    /// GB 35181 element references of the failed item.
    pub elements: Vec<String>,
    /// The earlier case this one recurs, and the chain length before it.
    pub recurrence: Option<(String, u32)>,
}

impl Hazard {
    /// A new hazard draft (status discovered) with its first event, made by `user`.
    pub fn discovered(
        finding: Finding,
        by: &crate::access::User,
        device: &str,
        at_ms: i64,
    ) -> Hazard {
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
            reported_by: by.id.clone(),
            events: vec![HazardEvent {
                id: crate::vocab::new_id("ev"),
                kind: HazardEventKind::Discovered,
                by: by.id.clone(),
                device: device.to_string(),
                at_ms,
                note: None,
                after: Vec::new(),
                role: Some(by.role),
                scope: Some(by.scope.clone()),
                photos: Vec::new(),
                departments: Vec::new(),
                deadline_ms: None,
                level: None,
            }],
            elements: finding.elements,
            recurrence_of: finding.recurrence.as_ref().map(|(id, _)| id.clone()),
            recurrence: finding.recurrence.map_or(0, |(_, n)| n + 1),
        }
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
    /// On the spot or by a deadline, once known.
    pub mode: Option<Rectification>,
    /// Rectification deadline (ms), once filed.
    pub deadline_ms: Option<i64>,
    /// Departments it is dispatched to.
    pub departments: Vec<String>,
    /// Listed supervision in force.
    pub supervision: Option<SupervisionLevel>,
    /// Recurrence chain length (0: not recurring).
    pub recurrence: u32,
    /// The earlier case it recurs.
    pub recurrence_of: Option<String>,
    /// Events the fold ignored (shown so nobody's action vanishes silently).
    pub flagged: u32,
}

/// A case as an app shows it: the record, its folded state, and the proposals made from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardCase {
    /// The record with its full history.
    pub hazard: Hazard,
    /// The folded state (status, deadline, departments, listing, flags).
    pub state: CaseState,
    /// Whether the case is overdue now.
    pub overdue: bool,
    /// Whether its recurrence chain proposes listing (反复回潮 → 挂牌督办).
    pub proposes_listing: bool,
    /// Why the premises' open hazards suggest a major fire hazard, if they do: a proposal for
    /// the office's collective determination and district listing, never a determination.
    pub suspected_major: Option<rules::MajorSuspicion>,
    /// Whether the case is proposed for district listing: a suspected major hazard not yet
    /// listed by the district (the office decides after its collective determination).
    pub proposes_district_listing: bool,
    /// Before/after photo pairs to show side by side, with the distance between them.
    pub photo_pairs: Vec<lifecycle::PhotoPair>,
}

/// One step of the closed loop, as a user asks for it; the store turns it into an event.
#[derive(Debug, Clone, PartialEq)]
pub enum HazardAction {
    /// 立案: file with a deadline (`None`: the street's default for the severity).
    File {
        /// Deadline in ms.
        deadline_ms: Option<i64>,
        /// Note.
        note: Option<String>,
    },
    /// 派遣 to departments (联合整治 when several).
    Dispatch {
        /// Department ids.
        departments: Vec<String>,
        /// Note.
        note: Option<String>,
    },
    /// A field worker records the fix (当场整改 from discovery, or by the deadline).
    ReportFix {
        /// After photos (at least one).
        photos: Vec<PhotoRef>,
        /// What was done.
        note: Option<String>,
    },
    /// A department reports its handling.
    ReportHandling {
        /// Evidence photos (at least one).
        photos: Vec<PhotoRef>,
        /// What was done.
        note: String,
    },
    /// 核查通过, with an after photo.
    Verify {
        /// After photos (at least one).
        photos: Vec<PhotoRef>,
        /// Note.
        note: Option<String>,
    },
    /// 核查未通过: back to handling.
    FailVerification {
        /// Why.
        reason: String,
        /// A new deadline, if any.
        deadline_ms: Option<i64>,
    },
    /// 结案.
    Close {
        /// Note.
        note: Option<String>,
    },
    /// Reopen: the hazard was found again (deadline from the severity).
    Reopen {
        /// Why.
        reason: String,
    },
    /// Change the deadline.
    SetDeadline {
        /// New deadline in ms.
        deadline_ms: i64,
        /// Why.
        note: Option<String>,
    },
    /// 挂牌督办.
    List {
        /// Street or district.
        level: SupervisionLevel,
        /// Why.
        reason: String,
        /// Target date in ms.
        target_ms: i64,
    },
    /// A progress note on a listed case.
    NoteProgress {
        /// The note.
        note: String,
    },
    /// 摘牌 once closed.
    Delist {
        /// Note.
        note: Option<String>,
    },
}

impl HazardAction {
    /// The event kind this action appends.
    pub fn kind(&self) -> HazardEventKind {
        use HazardEventKind as K;
        match self {
            HazardAction::File { .. } => K::Filed,
            HazardAction::Dispatch { .. } => K::Dispatched,
            HazardAction::ReportFix { .. } => K::FixReported,
            HazardAction::ReportHandling { .. } => K::Handled,
            HazardAction::Verify { .. } => K::Verified,
            HazardAction::FailVerification { .. } => K::VerificationFailed,
            HazardAction::Close { .. } => K::Closed,
            HazardAction::Reopen { .. } => K::Reopened,
            HazardAction::SetDeadline { .. } => K::DeadlineSet,
            HazardAction::List { .. } => K::Listed,
            HazardAction::NoteProgress { .. } => K::ProgressNoted,
            HazardAction::Delist { .. } => K::Delisted,
        }
    }
}

/// A deadline reminder list, for the signed-in user's cases, computed on the device offline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reminders {
    /// Past the deadline and not yet handled.
    pub overdue: Vec<HazardSummary>,
    /// Due before the end of today.
    pub due_today: Vec<HazardSummary>,
    /// Due in the next seven days after today.
    pub due_this_week: Vec<HazardSummary>,
}

string_enum! {
    /// Why a premises is marked for focused supervision (more frequent inspection).
    pub enum FocusReason {
        /// Many hazards within the street's window.
        RepeatedHazards = "repeated_hazards",
        /// An open serious hazard.
        SeriousHazard = "serious_hazard",
        /// An open suspected major hazard.
        MajorCandidate = "major_candidate",
        /// A hazard recurred after a close.
        Recurring = "recurring",
        /// A case under listed supervision.
        Listed = "listed",
    }
}

/// A premises marked for focused supervision; the scheduling uses the mark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FocusMark {
    /// Premises id.
    pub premises: String,
    /// Why (at least one).
    pub reasons: Vec<FocusReason>,
    /// Hazards found there within the window.
    pub hazards_in_window: u32,
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

/// `(zh, en)` as a [`Localized`].
fn label(zh: &str, en: &str) -> Localized {
    Localized {
        zh: zh.to_string(),
        en: en.to_string(),
    }
}

impl Severity {
    /// The name people read.
    pub fn label(self) -> Localized {
        match self {
            Severity::General => label("一般隐患", "general"),
            Severity::Serious => label("较大隐患", "serious"),
            Severity::MajorCandidate => label("疑似重大火灾隐患", "suspected major"),
        }
    }
}

impl HazardStatus {
    /// The name people read.
    pub fn label(self) -> Localized {
        match self {
            HazardStatus::Discovered => label("发现", "discovered"),
            HazardStatus::Filed => label("立案", "filed"),
            HazardStatus::Dispatched => label("派遣", "dispatched"),
            HazardStatus::Handled => label("处置", "handled"),
            HazardStatus::Verified => label("核查", "verified"),
            HazardStatus::Closed => label("结案", "closed"),
        }
    }
}

impl Rectification {
    /// The name people read.
    pub fn label(self) -> Localized {
        match self {
            Rectification::OnTheSpot => label("当场整改", "fixed on the spot"),
            Rectification::ByDeadline => label("限期整改", "fix by deadline"),
        }
    }
}

impl HazardEventKind {
    /// The name people read.
    pub fn label(self) -> Localized {
        use HazardEventKind as K;
        match self {
            K::Discovered => label("发现", "discovered"),
            K::Filed => label("立案", "filed"),
            K::Dispatched => label("派遣", "dispatched"),
            K::FixReported => label("整改报告", "fix reported"),
            K::Handled => label("部门处置报告", "department report"),
            K::Verified => label("核查通过", "verified"),
            K::VerificationFailed => label("核查未通过", "verification failed"),
            K::Closed => label("结案", "closed"),
            K::Reopened => label("重新打开", "reopened"),
            K::DeadlineSet => label("调整整改期限", "deadline changed"),
            K::Listed => label("挂牌督办", "listed"),
            K::ProgressNoted => label("督办进展", "progress note"),
            K::Delisted => label("摘牌", "delisted"),
        }
    }
}

impl SupervisionLevel {
    /// The name people read.
    pub fn label(self) -> Localized {
        match self {
            SupervisionLevel::Street => label("街道挂牌督办", "listed by the street"),
            SupervisionLevel::District => label("区级挂牌督办", "listed by the district"),
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ReadDoc};

    use super::*;

    #[test]
    fn a_version_1_document_reads_with_the_lifecycle_fields_empty() {
        let user = crate::access::User {
            id: "u.1".into(),
            name: String::new(),
            role: Role::GridPatroller,
            scope: Scope::new(crate::access::ScopeKind::Grid, "g"),
        };
        let finding = Finding {
            premises: "p".into(),
            origin: HazardOrigin::default(),
            severity: Severity::General,
            title: label("x", "x"),
            note: None,
            photos: Vec::new(),
            location: None,
            elements: Vec::new(),
            recurrence: None,
        };
        let h = Hazard::discovered(finding, &user, "dev", 5);
        let mut doc = AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &h).unwrap();
        for key in ["elements", "recurrence", "recurrence_of"] {
            doc.delete(automerge::ROOT, key).unwrap();
        }
        let (_, events) = doc.get(automerge::ROOT, "events").unwrap().unwrap();
        let (_, first) = doc.get(&events, 0).unwrap().unwrap();
        for key in [
            "after",
            "role",
            "scope",
            "photos",
            "departments",
            "deadline_ms",
            "level",
        ] {
            doc.delete(&first, key).unwrap();
        }
        doc.put(automerge::ROOT, "schema", 1u64).unwrap();
        let old: Hazard = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(old.schema, 1);
        assert!(old.elements.is_empty() && old.events[0].after.is_empty());
        assert_eq!(old.events[0].role, None);
        let state = fold(
            &old,
            &FoldContext {
                covers: &|_| true,
                far_m: 100.0,
            },
        );
        assert_eq!(state.status, HazardStatus::Discovered);
        assert!(state.flags.is_empty());
    }
}
