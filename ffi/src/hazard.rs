//! Hazards (隐患) and their closed loop 发现 → 立案 → 派遣 → 处置 → 核查 → 结案 as the app shows
//! and drives them: records, cases (the folded state), the actions a user takes, reminders.

use firegrid_core::hazard as domain;
use firegrid_core::hazard::rules::MajorSuspicion as DomainMajorSuspicion;

use crate::access::{Role, Scope};
use crate::vocab::{GeoPoint, Localized, PhotoRef, map_all, mirror_enum};

mirror_enum! {
    /// How serious a finding looks (a hint; a major hazard is never declared by the software).
    Severity = domain::Severity {
        /// 一般隐患
        General,
        /// 较大 / 突出隐患
        Serious,
        /// 疑似重大火灾隐患 — goes to the office for determination.
        MajorCandidate,
    }
}

mirror_enum! {
    /// Where a hazard is in the closed loop.
    HazardStatus = domain::HazardStatus {
        /// 发现 — a draft until the office files it.
        Discovered,
        /// 立案
        Filed,
        /// 派遣
        Dispatched,
        /// 处置
        Handled,
        /// 核查
        Verified,
        /// 结案
        Closed,
    }
}

mirror_enum! {
    /// How a hazard is rectified.
    Rectification = domain::Rectification {
        /// 当场整改 — fixed during the visit.
        OnTheSpot,
        /// 限期整改 — fixed by a deadline.
        ByDeadline,
    }
}

mirror_enum! {
    /// What happened to a hazard: one entry of its append-only history.
    HazardEventKind = domain::HazardEventKind {
        /// 发现
        Discovered,
        /// 立案
        Filed,
        /// 派遣
        Dispatched,
        /// 整改报告 — a field worker recorded the fix.
        FixReported,
        /// 处置 — a department reported what it did.
        Handled,
        /// 核查通过
        Verified,
        /// 核查未通过
        VerificationFailed,
        /// 结案
        Closed,
        /// 重新打开
        Reopened,
        /// 调整整改期限
        DeadlineSet,
        /// 挂牌督办
        Listed,
        /// 督办进展
        ProgressNoted,
        /// 摘牌
        Delisted,
    }
}

mirror_enum! {
    /// Level of listed supervision (挂牌督办).
    SupervisionLevel = domain::SupervisionLevel {
        /// 街道挂牌
        Street,
        /// 区级挂牌
        District,
    }
}

mirror_enum! {
    /// Why an event was flagged instead of (or besides) being applied.
    FlagReason = domain::FlagReason {
        /// The author's role may not make this kind of event.
        RoleNotAllowed,
        /// The author's scope does not cover the case's premises.
        OutOfScope,
        /// A department reported on a case not dispatched to it.
        NotDispatchedTo,
        /// The verifier reported the fix themself.
        SelfVerification,
        /// The event lacks its evidence.
        MissingEvidence,
        /// The case's state did not allow the event (usually a concurrent one came first).
        WrongState,
        /// The same report was already made.
        Duplicate,
        /// Applied, but a concurrent event of the same kind replaced its effect.
        Overridden,
        /// Applied; an after photo was taken far from where the hazard was found.
        FarFromBefore,
    }
}

mirror_enum! {
    /// Why a premises is marked for focused supervision.
    FocusReason = domain::FocusReason {
        /// Many hazards within the street's window.
        RepeatedHazards,
        /// An open serious hazard.
        SeriousHazard,
        /// An open suspected major hazard.
        MajorCandidate,
        /// A hazard recurred after a close.
        Recurring,
        /// A case under listed supervision.
        Listed,
    }
}

/// One event of a hazard's history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HazardEvent {
    /// Unique id of the event.
    pub id: String,
    /// What happened.
    pub kind: HazardEventKind,
    /// User who did it.
    pub by: String,
    /// Device it was recorded on.
    pub device: String,
    /// Device clock time in ms (display only).
    pub at_ms: i64,
    /// Note; for failures, reopenings and listings the reason.
    pub note: Option<String>,
    /// The events the author had seen.
    pub after: Vec<String>,
    /// The author's role when they made it.
    pub role: Option<Role>,
    /// The author's scope when they made it.
    pub scope: Option<Scope>,
    /// Evidence photos.
    pub photos: Vec<PhotoRef>,
    /// Dispatch targets (department ids).
    pub departments: Vec<String>,
    /// A deadline or a listing's target date, in ms.
    pub deadline_ms: Option<i64>,
    /// A listing's level.
    pub level: Option<SupervisionLevel>,
}

impl From<domain::HazardEvent> for HazardEvent {
    fn from(e: domain::HazardEvent) -> Self {
        HazardEvent {
            id: e.id,
            kind: e.kind.into(),
            by: e.by,
            device: e.device,
            at_ms: e.at_ms,
            note: e.note,
            after: e.after,
            role: e.role.map(Into::into),
            scope: e.scope.map(Into::into),
            photos: map_all(e.photos),
            departments: e.departments,
            deadline_ms: e.deadline_ms,
            level: e.level.map(Into::into),
        }
    }
}

/// How a hazard came to be known (all empty for a direct report).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HazardOrigin {
    /// The inspection that found it.
    pub inspection_id: Option<String>,
    /// The checklist item that failed.
    pub item_id: Option<String>,
    /// The checklist id.
    pub checklist_id: Option<String>,
    /// The checklist version.
    pub checklist_version: Option<u32>,
}

impl From<domain::HazardOrigin> for HazardOrigin {
    fn from(o: domain::HazardOrigin) -> Self {
        HazardOrigin {
            inspection_id: o.inspection,
            item_id: o.item,
            checklist_id: o.checklist,
            checklist_version: o.checklist_version,
        }
    }
}

/// A hazard record with its whole history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Hazard {
    /// Stable id.
    pub id: String,
    /// The premises it was found at.
    pub premises_id: String,
    /// Where it came from.
    pub origin: HazardOrigin,
    /// Severity hint at discovery.
    pub severity: Severity,
    /// What was found.
    pub title: Localized,
    /// The finder's note.
    pub note: Option<String>,
    /// Evidence photos (before).
    pub photos: Vec<PhotoRef>,
    /// Where it was found.
    pub location: Option<GeoPoint>,
    /// Who found it.
    pub reported_by: String,
    /// The history; the status is a fold over it.
    pub events: Vec<HazardEvent>,
    /// GB 35181 element references of the failed item.
    pub elements: Vec<String>,
    /// The earlier closed case this one recurs (反复回潮), if any.
    pub recurrence_of: Option<String>,
    /// Length of the recurrence chain before this one (0: not recurring).
    pub recurrence: u32,
}

impl From<domain::Hazard> for Hazard {
    fn from(h: domain::Hazard) -> Self {
        Hazard {
            id: h.id,
            premises_id: h.premises,
            origin: h.origin.into(),
            severity: h.severity.into(),
            title: h.title.into(),
            note: h.note,
            photos: map_all(h.photos),
            location: h.location.map(Into::into),
            reported_by: h.reported_by,
            events: map_all(h.events),
            elements: h.elements,
            recurrence_of: h.recurrence_of,
            recurrence: h.recurrence,
        }
    }
}

/// A hazard row of a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HazardSummary {
    /// Hazard id.
    pub id: String,
    /// Premises id.
    pub premises_id: String,
    /// Inspection that found it, if any.
    pub inspection_id: Option<String>,
    /// Failed checklist item, if any.
    pub item_id: Option<String>,
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
    /// Events the fold ignored (show them: nobody's action vanishes silently).
    pub flagged: u32,
}

impl From<domain::HazardSummary> for HazardSummary {
    fn from(s: domain::HazardSummary) -> Self {
        HazardSummary {
            id: s.id,
            premises_id: s.premises,
            inspection_id: s.inspection,
            item_id: s.item,
            status: s.status.into(),
            severity: s.severity.into(),
            title: s.title.into(),
            discovered_ms: s.discovered_ms,
            mode: s.mode.map(Into::into),
            deadline_ms: s.deadline_ms,
            departments: s.departments,
            supervision: s.supervision.map(Into::into),
            recurrence: s.recurrence,
            recurrence_of: s.recurrence_of,
            flagged: s.flagged,
        }
    }
}

/// Listed supervision in force (or ended) on a case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Listing {
    /// Street or district.
    pub level: SupervisionLevel,
    /// Why it was listed.
    pub reason: String,
    /// Target date (ms).
    pub target_ms: i64,
    /// The listing event.
    pub event_id: String,
    /// Progress notes: event ids, in fold order.
    pub progress: Vec<String>,
    /// When it was delisted, if it was.
    pub delisted_ms: Option<i64>,
}

impl From<domain::Listing> for Listing {
    fn from(l: domain::Listing) -> Self {
        Listing {
            level: l.level.into(),
            reason: l.reason,
            target_ms: l.target_ms,
            event_id: l.event,
            progress: l.progress,
            delisted_ms: l.delisted_ms,
        }
    }
}

/// An event the fold did not apply as written, and why.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct EventFlag {
    /// The event.
    pub event_id: String,
    /// Why.
    pub reason: FlagReason,
    /// Whether the event was left out of the state (not just applied with a warning).
    pub ignored: bool,
    /// The case's status when the event was judged.
    pub status_then: HazardStatus,
    /// Concurrent events applied before it.
    pub concurrent_with: Vec<String>,
    /// For `FarFromBefore`: the distance in metres.
    pub distance_m: Option<f64>,
}

impl From<domain::EventFlag> for EventFlag {
    fn from(f: domain::EventFlag) -> Self {
        EventFlag {
            ignored: f.reason.ignored(),
            event_id: f.event,
            reason: f.reason.into(),
            status_then: f.status_then.into(),
            concurrent_with: f.concurrent_with,
            distance_m: f.distance_m,
        }
    }
}

/// The state of a case, folded from its events.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseState {
    /// Where it is in the loop.
    pub status: HazardStatus,
    /// On the spot or by a deadline, once known.
    pub mode: Option<Rectification>,
    /// The rectification deadline (ms), once filed.
    pub deadline_ms: Option<i64>,
    /// Departments the case is dispatched to.
    pub departments: Vec<String>,
    /// Departments that reported in the current handling round.
    pub reported: Vec<String>,
    /// Users who reported fixes in the current round (they may not verify them).
    pub fixers: Vec<String>,
    /// Listed supervision, if the case was ever listed.
    pub listing: Option<Listing>,
    /// Times reopened.
    pub reopened: u32,
    /// Failed verifications.
    pub failed_verifications: u32,
    /// When it was closed, while closed.
    pub closed_ms: Option<i64>,
    /// When it was discovered.
    pub discovered_ms: i64,
    /// Every event id in fold order.
    pub order: Vec<String>,
    /// Events flagged.
    pub flags: Vec<EventFlag>,
}

impl From<domain::CaseState> for CaseState {
    fn from(s: domain::CaseState) -> Self {
        CaseState {
            status: s.status.into(),
            mode: s.mode.map(Into::into),
            deadline_ms: s.deadline_ms,
            departments: s.departments,
            reported: s.reported,
            fixers: s.fixers,
            listing: s.listing.map(Into::into),
            reopened: s.reopened,
            failed_verifications: s.failed_verifications,
            closed_ms: s.closed_ms,
            discovered_ms: s.discovered_ms,
            order: s.order,
            flags: map_all(s.flags),
        }
    }
}

/// Why the software suspects a major fire hazard: a proposal, never a determination.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MajorSuspicion {
    /// The standard version the elements come from.
    pub standard_version: String,
    /// Direct elements matched.
    pub direct: Vec<String>,
    /// Comprehensive elements matched.
    pub comprehensive: Vec<String>,
    /// The comprehensive rule's threshold reached, if that is why.
    pub threshold: Option<u32>,
}

impl From<DomainMajorSuspicion> for MajorSuspicion {
    fn from(m: DomainMajorSuspicion) -> Self {
        MajorSuspicion {
            standard_version: m.standard_version,
            direct: m.direct,
            comprehensive: m.comprehensive,
            threshold: m.threshold,
        }
    }
}

/// A case as the app shows it: the record, its state, and the proposals made from it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HazardCase {
    /// The record with its full history.
    pub hazard: Hazard,
    /// The folded state.
    pub state: CaseState,
    /// Whether the case is overdue now.
    pub overdue: bool,
    /// Whether its recurrence chain proposes listing.
    pub proposes_listing: bool,
    /// Why the premises' open hazards suggest a major fire hazard, if they do.
    pub suspected_major: Option<MajorSuspicion>,
    /// Whether the case is proposed for district listing.
    pub proposes_district_listing: bool,
    /// Before/after photo pairs to show side by side (整改前后对比).
    pub photo_pairs: Vec<PhotoPair>,
}

/// An after photo of a fix, handling or verification, linked to the hazard's first (before)
/// photo, with the distance between where they were taken.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoPair {
    /// The event the after photo belongs to.
    pub event_id: String,
    /// Its kind.
    pub kind: HazardEventKind,
    /// The hazard's first photo.
    pub before_sha256: String,
    /// The event's photo.
    pub after_sha256: String,
    /// Metres between them, when both places are known.
    pub distance_m: Option<f64>,
    /// Farther than the street's limit (100 m by default): the verification is flagged.
    pub far: bool,
}

impl From<domain::PhotoPair> for PhotoPair {
    fn from(p: domain::PhotoPair) -> Self {
        PhotoPair {
            event_id: p.event,
            kind: p.kind.into(),
            before_sha256: p.before_sha256,
            after_sha256: p.after_sha256,
            distance_m: p.distance_m,
            far: p.far,
        }
    }
}

impl From<domain::HazardCase> for HazardCase {
    fn from(c: domain::HazardCase) -> Self {
        HazardCase {
            hazard: c.hazard.into(),
            state: c.state.into(),
            overdue: c.overdue,
            proposes_listing: c.proposes_listing,
            suspected_major: c.suspected_major.map(Into::into),
            proposes_district_listing: c.proposes_district_listing,
            photo_pairs: c.photo_pairs.into_iter().map(Into::into).collect(),
        }
    }
}

/// One step of the closed loop, as a user asks for it.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
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
    /// Reopen: the hazard was found again.
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
    /// 挂牌督办 (`List` in the core; renamed because `List` is Kotlin's list type).
    ListForSupervision {
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

impl From<HazardAction> for domain::HazardAction {
    fn from(a: HazardAction) -> Self {
        use domain::HazardAction as D;
        match a {
            HazardAction::File { deadline_ms, note } => D::File { deadline_ms, note },
            HazardAction::Dispatch { departments, note } => D::Dispatch { departments, note },
            HazardAction::ReportFix { photos, note } => D::ReportFix {
                photos: map_all(photos),
                note,
            },
            HazardAction::ReportHandling { photos, note } => D::ReportHandling {
                photos: map_all(photos),
                note,
            },
            HazardAction::Verify { photos, note } => D::Verify {
                photos: map_all(photos),
                note,
            },
            HazardAction::FailVerification {
                reason,
                deadline_ms,
            } => D::FailVerification {
                reason,
                deadline_ms,
            },
            HazardAction::Close { note } => D::Close { note },
            HazardAction::Reopen { reason } => D::Reopen { reason },
            HazardAction::SetDeadline { deadline_ms, note } => D::SetDeadline { deadline_ms, note },
            HazardAction::ListForSupervision {
                level,
                reason,
                target_ms,
            } => D::List {
                level: level.into(),
                reason,
                target_ms,
            },
            HazardAction::NoteProgress { note } => D::NoteProgress { note },
            HazardAction::Delist { note } => D::Delist { note },
        }
    }
}

/// What a worker enters to report a hazard directly (without an inspection).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewHazard {
    /// The premises.
    pub premises_id: String,
    /// What was found, in the reporter's words.
    pub description: String,
    /// Severity as judged by the reporter.
    pub severity: Severity,
    /// Evidence photos.
    #[uniffi(default = [])]
    pub photos: Vec<PhotoRef>,
    /// Where.
    #[uniffi(default = None)]
    pub location: Option<GeoPoint>,
}

impl From<NewHazard> for domain::NewHazard {
    fn from(n: NewHazard) -> Self {
        domain::NewHazard {
            premises: n.premises_id,
            description: n.description,
            severity: n.severity.into(),
            photos: map_all(n.photos),
            location: n.location.map(Into::into),
        }
    }
}

/// Deadline reminders for the signed-in user's cases, computed offline.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Reminders {
    /// Past the deadline and not yet handled.
    pub overdue: Vec<HazardSummary>,
    /// Due before the end of today.
    pub due_today: Vec<HazardSummary>,
    /// Due in the next seven days after today.
    pub due_this_week: Vec<HazardSummary>,
}

impl From<domain::Reminders> for Reminders {
    fn from(r: domain::Reminders) -> Self {
        Reminders {
            overdue: map_all(r.overdue),
            due_today: map_all(r.due_today),
            due_this_week: map_all(r.due_this_week),
        }
    }
}

/// A premises marked for focused supervision.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FocusMark {
    /// Premises id.
    pub premises_id: String,
    /// Why (at least one).
    pub reasons: Vec<FocusReason>,
    /// Hazards found there within the window.
    pub hazards_in_window: u32,
}

impl From<domain::FocusMark> for FocusMark {
    fn from(m: domain::FocusMark) -> Self {
        FocusMark {
            premises_id: m.premises,
            reasons: map_all(m.reasons),
            hazards_in_window: m.hazards_in_window,
        }
    }
}
