//! The hazard closed loop as a fold: 发现 → 立案 → 派遣 → 处置 → 核查 → 结案.
//!
//! A hazard's history is an append-only list of [`HazardEvent`]s inside its automerge document.
//! Offline phones append events concurrently; after a merge every replica holds the same *set*
//! of events, but not necessarily in an order that means anything. So the state is never read
//! from list order: [`fold`] orders the events causally (each event names the events its author
//! had seen, `after`), breaks ties between concurrent events with the decision table
//! ([`precedence`]), and replays them through the state machine. The result is a function of
//! the set of events alone: identical on every replica whatever order they arrived in, with
//! duplicates counted once.
//!
//! Nothing is ever dropped. An event that cannot apply — its role may not make it
//! ([`may`]), its author's scope does not cover the case, it lost to a concurrent event, or it
//! lacks its evidence — stays in the history and is *flagged* with the reason and the
//! concurrent events it met. The server refuses unauthorized events at sync; the fold ignores
//! them anyway, so a replica never trusts another replica's checks.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use serde::Serialize;

use super::{Hazard, HazardEvent, HazardEventKind, HazardStatus, Rectification};
use crate::access::{Role, Scope, ScopeKind};
use crate::vocab::{GeoPoint, string_enum};

string_enum! {
    /// Level of listed supervision (挂牌督办).
    pub enum SupervisionLevel {
        /// 街道挂牌 — listed by the street.
        Street = "street",
        /// 区级挂牌 — listed by the district government.
        District = "district",
    }
}

string_enum! {
    /// Why an event was flagged instead of (or besides) being applied.
    pub enum FlagReason {
        /// The author's role may not make this kind of event.
        RoleNotAllowed = "role_not_allowed",
        /// The author's scope does not cover the case's premises.
        OutOfScope = "out_of_scope",
        /// A department reported on a case not dispatched to it.
        NotDispatchedTo = "not_dispatched_to",
        /// The verifier reported the fix themself.
        SelfVerification = "self_verification",
        /// The event lacks its evidence (a photo, a reason, departments, a date).
        MissingEvidence = "missing_evidence",
        /// The case was not in a state that allows the event when it applied (usually: a
        /// concurrent event on another phone came first by the decision table).
        WrongState = "wrong_state",
        /// The same report was already made (a department reporting twice in one round).
        Duplicate = "duplicate",
        /// Applied, but a concurrent event of the same kind replaced its effect.
        Overridden = "overridden",
        /// Applied; an after photo was taken far from where the hazard was found.
        FarFromBefore = "far_from_before",
    }
}

impl FlagReason {
    /// Whether the event was left out of the state (as opposed to applied with a warning).
    pub fn ignored(self) -> bool {
        !matches!(self, FlagReason::Overridden | FlagReason::FarFromBefore)
    }

    /// Whether the flag means the author had no right to the event (the server refuses such
    /// events at sync).
    pub fn unauthorized(self) -> bool {
        matches!(
            self,
            FlagReason::RoleNotAllowed
                | FlagReason::OutOfScope
                | FlagReason::NotDispatchedTo
                | FlagReason::SelfVerification
        )
    }

    /// What the flag means, for people.
    pub fn text(self) -> crate::vocab::Localized {
        let (zh, en) = match self {
            FlagReason::RoleNotAllowed => ("该角色无权进行此操作", "the role may not do this"),
            FlagReason::OutOfScope => ("超出操作人的管辖范围", "outside the author's area"),
            FlagReason::NotDispatchedTo => (
                "该案件未派遣给此部门",
                "the case was not dispatched to this department",
            ),
            FlagReason::SelfVerification => (
                "核查人不能是整改报告人",
                "the verifier reported the fix themself",
            ),
            FlagReason::MissingEvidence => ("缺少必要的证据或信息", "evidence or details missing"),
            FlagReason::WrongState => (
                "案件当时的状态不允许此操作（通常因另一台设备的并发操作在先）",
                "the case's state did not allow this (usually a concurrent action on another phone came first)",
            ),
            FlagReason::Duplicate => ("重复的报告", "a repeated report"),
            FlagReason::Overridden => (
                "已被并发的同类操作取代",
                "replaced by a concurrent action of the same kind",
            ),
            FlagReason::FarFromBefore => (
                "整改后照片的拍摄位置与发现位置相距较远",
                "the after photo was taken far from where the hazard was found",
            ),
        };
        crate::vocab::Localized {
            zh: zh.to_string(),
            en: en.to_string(),
        }
    }
}

/// Which roles may make which events: the role × transition table (also in ARCHITECTURE.md).
///
/// Field roles discover and report fixes (and reopen a case when they find the hazard again);
/// the office files, dispatches, sets deadlines, verifies, closes and lists; departments
/// handle what is dispatched to them. The administrator acts as the office.
pub fn may(role: Role, kind: HazardEventKind) -> bool {
    use HazardEventKind as K;
    let field = matches!(
        role,
        Role::GridPatroller | Role::ResidentialWorker | Role::StationCrew
    );
    let office = matches!(role, Role::StreetOffice | Role::Admin);
    match kind {
        K::Discovered | K::FixReported | K::Reopened => field || office,
        K::Handled => role == Role::Department,
        K::Filed
        | K::Dispatched
        | K::DeadlineSet
        | K::Verified
        | K::VerificationFailed
        | K::Closed
        | K::Listed
        | K::ProgressNoted
        | K::Delisted => office,
    }
}

/// The decision table's order between two *concurrent* events that are both ready: the lower
/// rank applies first, the other is then judged against the new state (and flagged if it no
/// longer applies). The principle: what keeps a case open or adds facts from the field comes
/// before what closes it, so no phone's "done" silently overrides another phone's "not done".
///
/// | rank | event | why it comes first |
/// |---|---|---|
/// | 0 | reopened | the hazard was seen again: beats a concurrent verify, close or delist |
/// | 1 | verification failed | a failed re-check beats a concurrent pass |
/// | 2 | handled (department report) | reports are facts; counted before decisions on them |
/// | 3 | fix reported | a fix on the spot beats a concurrent filing or dispatch |
/// | 4 | dispatched | concurrent dispatches add up (departments are a union) |
/// | 5 | filed | |
/// | 6 | deadline set | the later (by device clock) of concurrent edits wins; the other is flagged overridden |
/// | 7 | listed | supervision applies whatever the state, before a concurrent close |
/// | 8 | progress noted | |
/// | 9 | verified | after every concurrent report and failure |
/// | 10 | delisted | |
/// | 11 | closed | last: a close applies only if nothing concurrent reopened or failed the case |
/// | 12 | discovered | the root; a second one is a duplicate |
pub fn precedence(kind: HazardEventKind) -> u8 {
    use HazardEventKind as K;
    match kind {
        K::Reopened => 0,
        K::VerificationFailed => 1,
        K::Handled => 2,
        K::FixReported => 3,
        K::Dispatched => 4,
        K::Filed => 5,
        K::DeadlineSet => 6,
        K::Listed => 7,
        K::ProgressNoted => 8,
        K::Verified => 9,
        K::Delisted => 10,
        K::Closed => 11,
        K::Discovered => 12,
    }
}

/// What the fold needs besides the document: the case's place, and the street's rules.
#[derive(Clone, Copy)]
pub struct FoldContext<'a> {
    /// Whether a user scope (grid, community, station, street) covers the case's premises.
    /// Department scopes never cover an area: departments act on dispatch only.
    pub covers: &'a dyn Fn(&Scope) -> bool,
    /// How far (metres) an after photo may be from the before location before it is flagged.
    pub far_m: f64,
}

impl std::fmt::Debug for FoldContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoldContext")
            .field("far_m", &self.far_m)
            .finish_non_exhaustive()
    }
}

/// Listed supervision in force (or ended) on a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// Street or district.
    pub level: SupervisionLevel,
    /// Why it was listed.
    pub reason: String,
    /// Target date to fix by (ms).
    pub target_ms: i64,
    /// The listing event.
    pub event: String,
    /// Progress notes: event ids, in fold order.
    pub progress: Vec<String>,
    /// When it was delisted (device clock of the delisting event), if it was.
    pub delisted_ms: Option<i64>,
}

/// An event the fold did not apply as written, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventFlag {
    /// The event.
    pub event: String,
    /// Why.
    pub reason: FlagReason,
    /// The case's status when the event was judged.
    pub status_then: HazardStatus,
    /// Concurrent events applied before it (what it "lost to"), if any.
    pub concurrent_with: Vec<String>,
    /// For [`FlagReason::FarFromBefore`]: the distance in metres.
    pub distance_m: Option<f64>,
}

/// The state of a case: a pure function of its set of events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseState {
    /// Where it is in the loop.
    pub status: HazardStatus,
    /// On the spot or by a deadline, once known.
    pub mode: Option<Rectification>,
    /// The rectification deadline (ms), once filed.
    pub deadline_ms: Option<i64>,
    /// Departments the case is dispatched to (a joint action when more than one).
    pub departments: Vec<String>,
    /// Departments that reported in the current handling round.
    pub reported: Vec<String>,
    /// Users who reported fixes in the current round (they may not verify them).
    pub fixers: Vec<String>,
    /// Listed supervision, if the case was ever listed (the latest listing).
    pub listing: Option<Listing>,
    /// How many times the case was reopened.
    pub reopened: u32,
    /// How many verifications failed.
    pub failed_verifications: u32,
    /// When it was closed (device clock of the closing event), while closed.
    pub closed_ms: Option<i64>,
    /// When it was discovered (device clock of the root event).
    pub discovered_ms: i64,
    /// Every event id in the order the fold applied or judged it.
    pub order: Vec<String>,
    /// Events flagged (ignored or applied with a warning).
    pub flags: Vec<EventFlag>,
}

impl CaseState {
    /// Whether the case is open (not closed).
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    /// Whether the listing is in force.
    pub fn listed(&self) -> Option<SupervisionLevel> {
        self.listing
            .as_ref()
            .filter(|l| l.delisted_ms.is_none())
            .map(|l| l.level)
    }

    /// Whether the case waits for a fix past its deadline at `now_ms`.
    pub fn overdue(&self, now_ms: i64) -> bool {
        matches!(
            self.status,
            HazardStatus::Discovered | HazardStatus::Filed | HazardStatus::Dispatched
        ) && self.deadline_ms.is_some_and(|d| d < now_ms)
    }

    /// The flag on one event, if any.
    pub fn flag_of(&self, event: &str) -> Option<&EventFlag> {
        self.flags.iter().find(|f| f.event == event)
    }
}

/// Folds a hazard's events into its state. Deterministic in the *set* of events: list order
/// and duplicates do not matter.
pub fn fold(hazard: &Hazard, ctx: &FoldContext<'_>) -> CaseState {
    let events = causal_order(&hazard.events);
    let mut f = Folder {
        ctx,
        hazard,
        ancestors: HashMap::new(),
        applied_by_kind: HashMap::new(),
        s: CaseState {
            status: HazardStatus::Discovered,
            mode: None,
            deadline_ms: None,
            departments: Vec::new(),
            reported: Vec::new(),
            fixers: Vec::new(),
            listing: None,
            reopened: 0,
            failed_verifications: 0,
            closed_ms: None,
            discovered_ms: 0,
            order: Vec::with_capacity(events.len()),
            flags: Vec::new(),
        },
        seen_root: false,
    };
    for e in events {
        f.step(e);
    }
    f.s
}

/// The events deduplicated by id and put in a causal order: Kahn's algorithm over the `after`
/// links, taking among the ready events the one first by (decision-table rank, device time,
/// id). Links to unknown events are ignored; events caught in a (forged) cycle go last in the
/// same order.
fn causal_order(events: &[HazardEvent]) -> Vec<&HazardEvent> {
    // One event per id; if forged duplicates differ, the smallest by content wins everywhere.
    let mut by_id: HashMap<&str, &HazardEvent> = HashMap::with_capacity(events.len());
    for e in events {
        by_id
            .entry(e.id.as_str())
            .and_modify(|cur| {
                if sort_key_full(e) < sort_key_full(cur) {
                    *cur = e;
                }
            })
            .or_insert(e);
    }
    let mut pending: HashMap<&str, usize> = HashMap::with_capacity(by_id.len());
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, e) in &by_id {
        let parents: BTreeSet<&str> = e
            .after
            .iter()
            .map(String::as_str)
            .filter(|p| *p != *id && by_id.contains_key(p))
            .collect();
        pending.insert(id, parents.len());
        for p in parents {
            children.entry(p).or_default().push(id);
        }
    }
    let key = |e: &HazardEvent| Reverse(ReadyKey(precedence(e.kind), e.at_ms, e.id.clone()));
    let mut ready: BinaryHeap<(Reverse<ReadyKey>, &str)> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| (key(by_id[id]), *id))
        .collect();
    let mut out = Vec::with_capacity(by_id.len());
    while let Some((_, id)) = ready.pop() {
        out.push(by_id[id]);
        for c in children.get(id).map(Vec::as_slice).unwrap_or_default() {
            if let Some(n) = pending.get_mut(c) {
                *n -= 1;
                if *n == 0 {
                    ready.push((key(by_id[c]), c));
                }
            }
        }
        pending.remove(id);
    }
    if !pending.is_empty() {
        let mut rest: Vec<&HazardEvent> = pending.keys().map(|id| by_id[id]).collect();
        rest.sort_by_key(|e| key(e).0);
        out.extend(rest);
    }
    out
}

/// The order among ready events: decision-table rank, device time, id.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ReadyKey(u8, i64, String);

/// A total order on events' content, to pick one of forged duplicates deterministically.
fn sort_key_full(e: &HazardEvent) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

struct Folder<'a, 'c> {
    ctx: &'a FoldContext<'c>,
    hazard: &'a Hazard,
    /// Every applied or judged event's ancestors (ids), by id.
    ancestors: HashMap<String, BTreeSet<String>>,
    /// Applied events by kind, in fold order (to find concurrent predecessors).
    applied_by_kind: HashMap<HazardEventKind, Vec<String>>,
    s: CaseState,
    seen_root: bool,
}

impl Folder<'_, '_> {
    fn step(&mut self, e: &HazardEvent) {
        // Ancestors: the event's `after` links and everything before them.
        let mut anc = BTreeSet::new();
        for p in &e.after {
            if let Some(pa) = self.ancestors.get(p) {
                anc.extend(pa.iter().cloned());
                anc.insert(p.clone());
            }
        }
        self.ancestors.insert(e.id.clone(), anc);
        self.s.order.push(e.id.clone());

        let status_then = self.s.status;
        match self.judge(e) {
            Ok(()) => {
                self.applied_by_kind
                    .entry(e.kind)
                    .or_default()
                    .push(e.id.clone());
            }
            Err(reason) => {
                let concurrent_with = self.concurrent_applied(e);
                self.s.flags.push(EventFlag {
                    event: e.id.clone(),
                    reason,
                    status_then,
                    concurrent_with,
                    distance_m: None,
                });
            }
        }
    }

    /// Applied events that are concurrent with `e` (neither saw the other), in fold order.
    fn concurrent_applied(&self, e: &HazardEvent) -> Vec<String> {
        let Some(mine) = self.ancestors.get(&e.id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in &self.s.order {
            if *id == e.id {
                break;
            }
            let applied = self
                .s
                .flags
                .iter()
                .all(|f| f.event != *id || !f.reason.ignored());
            if applied && !mine.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    /// Checks the event against the role table, the scope and the state; applies it if it
    /// passes, or says why not.
    fn judge(&mut self, e: &HazardEvent) -> Result<(), FlagReason> {
        use HazardEventKind as K;
        use HazardStatus as S;
        if e.kind == K::Discovered {
            // The root: the record's creation. Authorised by the server's create check.
            if self.seen_root {
                return Err(FlagReason::Duplicate);
            }
            self.seen_root = true;
            self.s.discovered_ms = e.at_ms;
            return Ok(());
        }
        let (Some(role), Some(scope)) = (e.role, e.scope.as_ref()) else {
            return Err(FlagReason::RoleNotAllowed);
        };
        if !may(role, e.kind) {
            return Err(FlagReason::RoleNotAllowed);
        }
        if role == Role::Department {
            if scope.kind != ScopeKind::Department {
                return Err(FlagReason::OutOfScope);
            }
            if !self.s.departments.contains(&scope.id) {
                return Err(FlagReason::NotDispatchedTo);
            }
        } else if scope.kind == ScopeKind::Department || !(self.ctx.covers)(scope) {
            return Err(FlagReason::OutOfScope);
        }
        let has_note = e.note.as_deref().is_some_and(|n| !n.trim().is_empty());
        let s = &mut self.s;
        match e.kind {
            K::Discovered => Ok(()),
            K::Filed => {
                if s.status != S::Discovered {
                    return Err(FlagReason::WrongState);
                }
                let Some(d) = e.deadline_ms else {
                    return Err(FlagReason::MissingEvidence);
                };
                s.status = S::Filed;
                s.mode = Some(Rectification::ByDeadline);
                s.deadline_ms = Some(d);
                Ok(())
            }
            K::Dispatched => {
                if !matches!(s.status, S::Filed | S::Dispatched) {
                    return Err(FlagReason::WrongState);
                }
                if e.departments.is_empty() {
                    return Err(FlagReason::MissingEvidence);
                }
                for d in &e.departments {
                    if !s.departments.contains(d) {
                        s.departments.push(d.clone());
                    }
                }
                s.departments.sort();
                s.status = S::Dispatched;
                Ok(())
            }
            K::FixReported => {
                let allowed = match s.status {
                    S::Discovered | S::Filed => true,
                    // A second worker's concurrent fix report adds evidence.
                    S::Handled => s.departments.is_empty(),
                    _ => false,
                };
                if !allowed {
                    return Err(FlagReason::WrongState);
                }
                if e.photos.is_empty() {
                    return Err(FlagReason::MissingEvidence);
                }
                if s.status == S::Discovered {
                    s.mode = Some(Rectification::OnTheSpot);
                }
                if !s.fixers.contains(&e.by) {
                    s.fixers.push(e.by.clone());
                }
                s.status = S::Handled;
                Ok(())
            }
            K::Handled => {
                if s.status != S::Dispatched {
                    return Err(FlagReason::WrongState);
                }
                if s.reported.contains(&scope.id) {
                    return Err(FlagReason::Duplicate);
                }
                if e.photos.is_empty() || !has_note {
                    return Err(FlagReason::MissingEvidence);
                }
                s.reported.push(scope.id.clone());
                s.reported.sort();
                if !s.fixers.contains(&e.by) {
                    s.fixers.push(e.by.clone());
                }
                if s.departments.iter().all(|d| s.reported.contains(d)) {
                    s.status = S::Handled;
                }
                Ok(())
            }
            K::Verified => {
                if s.status != S::Handled {
                    return Err(FlagReason::WrongState);
                }
                if s.fixers.contains(&e.by) {
                    return Err(FlagReason::SelfVerification);
                }
                if e.photos.is_empty() {
                    return Err(FlagReason::MissingEvidence);
                }
                s.status = S::Verified;
                self.check_distance(e);
                Ok(())
            }
            K::VerificationFailed => {
                if s.status != S::Handled {
                    return Err(FlagReason::WrongState);
                }
                if !has_note {
                    return Err(FlagReason::MissingEvidence);
                }
                s.failed_verifications += 1;
                s.reported.clear();
                s.fixers.clear();
                if let Some(d) = e.deadline_ms {
                    s.deadline_ms = Some(d);
                }
                if s.departments.is_empty() {
                    s.status = S::Filed;
                    s.mode = Some(Rectification::ByDeadline);
                } else {
                    s.status = S::Dispatched;
                }
                Ok(())
            }
            K::Closed => {
                if s.status != S::Verified {
                    return Err(FlagReason::WrongState);
                }
                s.status = S::Closed;
                s.closed_ms = Some(e.at_ms);
                Ok(())
            }
            K::Reopened => {
                if !matches!(s.status, S::Handled | S::Verified | S::Closed) {
                    return Err(FlagReason::WrongState);
                }
                let Some(d) = e.deadline_ms else {
                    return Err(FlagReason::MissingEvidence);
                };
                if !has_note {
                    return Err(FlagReason::MissingEvidence);
                }
                s.status = S::Filed;
                s.mode = Some(Rectification::ByDeadline);
                s.deadline_ms = Some(d);
                s.departments.clear();
                s.reported.clear();
                s.fixers.clear();
                s.closed_ms = None;
                s.reopened += 1;
                Ok(())
            }
            K::DeadlineSet => {
                if !matches!(s.status, S::Filed | S::Dispatched) {
                    return Err(FlagReason::WrongState);
                }
                let Some(d) = e.deadline_ms else {
                    return Err(FlagReason::MissingEvidence);
                };
                s.deadline_ms = Some(d);
                self.override_concurrent(e);
                Ok(())
            }
            K::Listed => {
                if s.status == S::Closed {
                    return Err(FlagReason::WrongState);
                }
                let (Some(level), Some(target)) = (e.level, e.deadline_ms) else {
                    return Err(FlagReason::MissingEvidence);
                };
                if !has_note {
                    return Err(FlagReason::MissingEvidence);
                }
                if let Some(cur) = s.listing.as_ref().filter(|l| l.delisted_ms.is_none())
                    && cur.level >= level
                {
                    return Err(FlagReason::Duplicate);
                }
                let progress = s
                    .listing
                    .take()
                    .filter(|l| l.delisted_ms.is_none())
                    .map(|l| l.progress)
                    .unwrap_or_default();
                s.listing = Some(Listing {
                    level,
                    reason: e.note.clone().unwrap_or_default(),
                    target_ms: target,
                    event: e.id.clone(),
                    progress,
                    delisted_ms: None,
                });
                Ok(())
            }
            K::ProgressNoted => {
                let Some(l) = s.listing.as_mut().filter(|l| l.delisted_ms.is_none()) else {
                    return Err(FlagReason::WrongState);
                };
                if !has_note {
                    return Err(FlagReason::MissingEvidence);
                }
                l.progress.push(e.id.clone());
                Ok(())
            }
            K::Delisted => {
                if s.status != S::Closed {
                    return Err(FlagReason::WrongState);
                }
                let Some(l) = s.listing.as_mut().filter(|l| l.delisted_ms.is_none()) else {
                    return Err(FlagReason::WrongState);
                };
                l.delisted_ms = Some(e.at_ms);
                Ok(())
            }
        }
    }

    /// Flags earlier applied events of the same kind that `e` did not see (it replaced them).
    fn override_concurrent(&mut self, e: &HazardEvent) {
        let Some(anc) = self.ancestors.get(&e.id) else {
            return;
        };
        let replaced: Vec<String> = self
            .applied_by_kind
            .get(&e.kind)
            .map(|ids| {
                ids.iter()
                    .filter(|id| !anc.contains(*id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for id in replaced {
            if self.s.flag_of(&id).is_none() {
                self.s.flags.push(EventFlag {
                    event: id,
                    reason: FlagReason::Overridden,
                    status_then: self.s.status,
                    concurrent_with: vec![e.id.clone()],
                    distance_m: None,
                });
            }
        }
    }

    /// Flags a verification whose after photos were taken far from the before location.
    fn check_distance(&mut self, e: &HazardEvent) {
        let Some(before) = before_location(self.hazard) else {
            return;
        };
        let far = e
            .photos
            .iter()
            .filter_map(|p| p.location.as_ref())
            .map(|l| before.distance_m(l))
            .fold(None::<f64>, |m, d| Some(m.map_or(d, |m| m.max(d))));
        if let Some(d) = far.filter(|d| *d > self.ctx.far_m) {
            self.s.flags.push(EventFlag {
                event: e.id.clone(),
                reason: FlagReason::FarFromBefore,
                status_then: self.s.status,
                concurrent_with: Vec::new(),
                distance_m: Some(d),
            });
        }
    }
}

/// Where the hazard was found: the first before photo's location, else the hazard's.
pub fn before_location(h: &Hazard) -> Option<GeoPoint> {
    h.photos.iter().find_map(|p| p.location).or(h.location)
}

/// A before/after pair (整改前后对比): an after photo of a fix, a department's handling or a
/// verification, linked to the hazard's first (before) photo, with the distance between where
/// they were taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoPair {
    /// The event the after photo belongs to.
    pub event: String,
    /// Its kind (`fix_reported`, `handled`, `verified`, `verification_failed`).
    pub kind: HazardEventKind,
    /// The hazard's first photo.
    pub before_sha256: String,
    /// The event's photo.
    pub after_sha256: String,
    /// Metres between the before location (as the fold measures it: [`before_location`]) and
    /// the after photo's; `None` when either is unknown.
    pub distance_m: Option<f64>,
    /// Whether that is farther than the street's limit (the fold flags such a verification).
    pub far: bool,
}

/// Every after photo of the hazard's fix, handling and verification events, each paired with
/// the hazard's first photo, in event order; empty when the hazard has no before photo.
pub fn photo_pairs(h: &Hazard, far_m: f64) -> Vec<PhotoPair> {
    let Some(before) = h.photos.first() else {
        return Vec::new();
    };
    let origin = before_location(h);
    h.events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                HazardEventKind::FixReported
                    | HazardEventKind::Handled
                    | HazardEventKind::Verified
                    | HazardEventKind::VerificationFailed
            )
        })
        .flat_map(|e| {
            e.photos.iter().map(move |after| {
                let distance_m = origin.zip(after.location).map(|(b, a)| b.distance_m(&a));
                PhotoPair {
                    event: e.id.clone(),
                    kind: e.kind,
                    before_sha256: before.sha256.clone(),
                    after_sha256: after.sha256.clone(),
                    distance_m,
                    far: distance_m.is_some_and(|d| d > far_m),
                }
            })
        })
        .collect()
}

/// The heads of a hazard's event graph: events no other event names in `after`. A new event
/// names them, so the fold knows what its author had seen.
pub fn event_heads(events: &[HazardEvent]) -> Vec<String> {
    let named: BTreeSet<&str> = events
        .iter()
        .flat_map(|e| e.after.iter().map(String::as_str))
        .collect();
    let mut heads: Vec<String> = events
        .iter()
        .filter(|e| !named.contains(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    heads.sort();
    heads
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::hazard::{Finding, HazardOrigin, Severity};
    use crate::vocab::{Localized, PhotoRef};

    fn user(role: Role) -> crate::access::User {
        let scope = match role {
            Role::GridPatroller => Scope::new(ScopeKind::Grid, "grid.01.1"),
            Role::ResidentialWorker => Scope::new(ScopeKind::Community, "com.01"),
            Role::StationCrew => Scope::new(ScopeKind::Station, "sta.01"),
            Role::Department => Scope::new(ScopeKind::Department, "dept.a"),
            Role::StreetOffice | Role::Admin => Scope::new(ScopeKind::Street, "street.x"),
        };
        crate::access::User {
            id: format!("u.{role}"),
            name: String::new(),
            role,
            scope,
        }
    }

    fn covers(s: &Scope) -> bool {
        match s.kind {
            ScopeKind::Street => true,
            ScopeKind::Community => s.id == "com.01",
            ScopeKind::Grid => s.id == "grid.01.1",
            ScopeKind::Station => s.id == "sta.01",
            ScopeKind::Department => false,
        }
    }

    const CTX: FoldContext<'static> = FoldContext {
        covers: &covers,
        far_m: 100.0,
    };

    fn photo(n: u8, at: Option<(f64, f64)>) -> PhotoRef {
        PhotoRef {
            sha256: format!("{n:02x}").repeat(32),
            captured_at_ms: None,
            location: at.map(|(lat, lon)| GeoPoint {
                lat,
                lon,
                accuracy_m: None,
            }),
        }
    }

    fn hazard() -> Hazard {
        Hazard::discovered(
            Finding {
                premises: "p.1".into(),
                origin: HazardOrigin::default(),
                severity: Severity::General,
                title: Localized {
                    zh: "x".into(),
                    en: "x".into(),
                },
                note: None,
                photos: vec![photo(1, Some((31.25, 121.40)))],
                location: None,
                elements: Vec::new(),
                recurrence: None,
            },
            &user(Role::GridPatroller),
            "dev",
            1_000,
        )
    }

    /// An event of `kind` by `who`, with every field the kind needs, after `after`.
    fn event(
        kind: HazardEventKind,
        who: &crate::access::User,
        n: u32,
        after: Vec<String>,
    ) -> HazardEvent {
        HazardEvent {
            id: format!("ev.{n:04}"),
            kind,
            by: who.id.clone(),
            device: "dev".into(),
            at_ms: 1_000 + i64::from(n),
            note: Some("note".into()),
            after,
            role: Some(who.role),
            scope: Some(who.scope.clone()),
            photos: vec![photo(2, Some((31.25, 121.40)))],
            departments: vec!["dept.a".into(), "dept.b".into()],
            deadline_ms: Some(10_000 + i64::from(n)),
            level: Some(SupervisionLevel::Street),
        }
    }

    /// Appends an event after the current heads (a linear history on one phone).
    fn push(h: &mut Hazard, kind: HazardEventKind, who: &crate::access::User) -> String {
        let n = h.events.len() as u32;
        let e = event(kind, who, n, event_heads(&h.events));
        let id = e.id.clone();
        h.events.push(e);
        id
    }

    fn dept(id: &str) -> crate::access::User {
        crate::access::User {
            id: format!("u.{id}"),
            name: String::new(),
            role: Role::Department,
            scope: Scope::new(ScopeKind::Department, id),
        }
    }

    #[test]
    fn the_role_table_lets_each_role_do_its_part_only() {
        use HazardEventKind as K;
        for kind in HazardEventKind::ALL {
            for role in Role::ALL {
                let expected = match kind {
                    K::Discovered | K::FixReported | K::Reopened => *role != Role::Department,
                    K::Handled => *role == Role::Department,
                    _ => matches!(role, Role::StreetOffice | Role::Admin),
                };
                assert_eq!(may(*role, *kind), expected, "{role} {kind}");
            }
        }
    }

    #[test]
    fn a_joint_action_is_handled_only_when_every_department_reported() {
        use HazardEventKind as K;
        let office = user(Role::StreetOffice);
        let mut h = hazard();
        push(&mut h, K::Filed, &office);
        push(&mut h, K::Dispatched, &office);
        assert_eq!(fold(&h, &CTX).status, HazardStatus::Dispatched);
        push(&mut h, K::Handled, &dept("dept.a"));
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Dispatched);
        assert_eq!(s.reported, vec!["dept.a".to_string()]);
        let dup = push(&mut h, K::Handled, &dept("dept.a"));
        assert_eq!(
            fold(&h, &CTX).flag_of(&dup).unwrap().reason,
            FlagReason::Duplicate
        );
        push(&mut h, K::Handled, &dept("dept.b"));
        assert_eq!(fold(&h, &CTX).status, HazardStatus::Handled);
        let outsider = push(&mut h, K::Handled, &dept("dept.c"));
        assert_eq!(
            fold(&h, &CTX).flag_of(&outsider).unwrap().reason,
            FlagReason::NotDispatchedTo
        );
        // A failed verification sends every department back to handling.
        push(&mut h, K::VerificationFailed, &office);
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Dispatched);
        assert!(s.reported.is_empty());
        assert_eq!(s.failed_verifications, 1);
        push(&mut h, K::Handled, &dept("dept.a"));
        push(&mut h, K::Handled, &dept("dept.b"));
        push(&mut h, K::Verified, &office);
        push(&mut h, K::Closed, &office);
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Closed);
        assert_eq!(s.closed_ms, Some(h.events.last().unwrap().at_ms));
        assert!(
            s.flags
                .iter()
                .all(|f| [dup.as_str(), outsider.as_str()].contains(&f.event.as_str()))
        );
    }

    #[test]
    fn a_fix_on_the_spot_is_verified_by_someone_else_with_the_distance_checked() {
        use HazardEventKind as K;
        let patroller = user(Role::GridPatroller);
        let office = user(Role::StreetOffice);
        let mut h = hazard();
        push(&mut h, K::FixReported, &patroller);
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Handled);
        assert_eq!(s.mode, Some(Rectification::OnTheSpot));
        // The fixer may not verify (an office user who fixed it either).
        let mut own = h.clone();
        let ev = push(&mut own, K::FixReported, &office);
        let v = push(&mut own, K::Verified, &office);
        assert!(fold(&own, &CTX).flag_of(&ev).is_none());
        assert_eq!(
            fold(&own, &CTX).flag_of(&v).unwrap().reason,
            FlagReason::SelfVerification
        );
        // A verification photo 1 km away is applied, and flagged.
        let v = push(&mut h, K::Verified, &office);
        h.events.last_mut().unwrap().photos = vec![photo(3, Some((31.259, 121.40)))];
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Verified);
        let flag = s.flag_of(&v).unwrap();
        assert_eq!(flag.reason, FlagReason::FarFromBefore);
        assert!(flag.distance_m.unwrap() > 900.0);
        assert!(!flag.reason.ignored());
    }

    #[test]
    fn after_photos_are_paired_with_the_first_before_photo_and_their_distance() {
        use HazardEventKind as K;
        let patroller = user(Role::GridPatroller);
        let office = user(Role::StreetOffice);
        let mut h = hazard();
        h.photos.push(photo(9, None));
        assert!(photo_pairs(&h, 100.0).is_empty(), "no after photo yet");
        let fix = push(&mut h, K::FixReported, &patroller);
        h.events.last_mut().unwrap().photos =
            vec![photo(2, Some((31.2502, 121.40))), photo(4, None)];
        let v = push(&mut h, K::Verified, &office);
        h.events.last_mut().unwrap().photos = vec![photo(3, Some((31.259, 121.40)))];
        let pairs = photo_pairs(&h, 100.0);
        assert_eq!(pairs.len(), 3);
        assert!(
            pairs
                .iter()
                .all(|p| p.before_sha256 == photo(1, None).sha256)
        );
        assert_eq!(
            (pairs[0].event.as_str(), pairs[0].kind),
            (fix.as_str(), K::FixReported)
        );
        let near = pairs[0].distance_m.unwrap();
        assert!((20.0..25.0).contains(&near) && !pairs[0].far, "{near}");
        assert_eq!((pairs[1].distance_m, pairs[1].far), (None, false));
        assert_eq!(pairs[2].event, v);
        assert!(pairs[2].distance_m.unwrap() > 900.0 && pairs[2].far);
        // The same distance the fold flags the verification with.
        let flag = fold(&h, &CTX).flag_of(&v).cloned().unwrap();
        assert_eq!(flag.distance_m, pairs[2].distance_m);
        let mut none = h.clone();
        none.photos.clear();
        assert!(
            photo_pairs(&none, 100.0).is_empty(),
            "no before photo: no pair"
        );
    }

    #[test]
    fn events_by_the_wrong_role_or_outside_the_scope_are_ignored_and_flagged() {
        use HazardEventKind as K;
        let mut h = hazard();
        let by_patroller = push(&mut h, K::Filed, &user(Role::GridPatroller));
        let mut far = user(Role::GridPatroller);
        far.scope = Scope::new(ScopeKind::Grid, "grid.09.9");
        let far_fix = push(&mut h, K::FixReported, &far);
        let mut no_role = event(
            K::Filed,
            &user(Role::StreetOffice),
            99,
            event_heads(&h.events),
        );
        no_role.role = None;
        let no_role_id = no_role.id.clone();
        h.events.push(no_role);
        let s = fold(&h, &CTX);
        assert_eq!(s.status, HazardStatus::Discovered);
        assert_eq!(
            s.flag_of(&by_patroller).unwrap().reason,
            FlagReason::RoleNotAllowed
        );
        assert_eq!(s.flag_of(&far_fix).unwrap().reason, FlagReason::OutOfScope);
        assert_eq!(
            s.flag_of(&no_role_id).unwrap().reason,
            FlagReason::RoleNotAllowed
        );
        assert!(s.flags.iter().all(|f| f.reason.unauthorized()));
    }

    #[test]
    fn listing_lasts_until_a_closed_case_is_delisted() {
        use HazardEventKind as K;
        let office = user(Role::StreetOffice);
        let mut h = hazard();
        push(&mut h, K::Filed, &office);
        push(&mut h, K::Listed, &office);
        push(&mut h, K::ProgressNoted, &office);
        let early = push(&mut h, K::Delisted, &office);
        let s = fold(&h, &CTX);
        assert_eq!(s.listed(), Some(SupervisionLevel::Street));
        assert_eq!(s.flag_of(&early).unwrap().reason, FlagReason::WrongState);
        // Raised to the district: the progress notes stay.
        let mut up = event(K::Listed, &office, 50, event_heads(&h.events));
        up.level = Some(SupervisionLevel::District);
        h.events.push(up);
        let s = fold(&h, &CTX);
        assert_eq!(s.listed(), Some(SupervisionLevel::District));
        assert_eq!(s.listing.as_ref().unwrap().progress.len(), 1);
        push(&mut h, K::FixReported, &user(Role::GridPatroller));
        push(&mut h, K::Verified, &office);
        push(&mut h, K::Closed, &office);
        push(&mut h, K::Delisted, &office);
        let s = fold(&h, &CTX);
        assert_eq!(s.listed(), None);
        assert!(s.listing.unwrap().delisted_ms.is_some());
    }

    #[test]
    fn concurrent_deadline_changes_keep_the_later_and_flag_the_other() {
        use HazardEventKind as K;
        let office = user(Role::StreetOffice);
        let mut h = hazard();
        push(&mut h, K::Filed, &office);
        let heads = event_heads(&h.events);
        let a = event(K::DeadlineSet, &office, 10, heads.clone());
        let b = event(K::DeadlineSet, &office, 11, heads);
        h.events.push(b.clone());
        h.events.push(a.clone());
        let s = fold(&h, &CTX);
        assert_eq!(s.deadline_ms, b.deadline_ms, "the later device time wins");
        let flag = s.flag_of(&a.id).unwrap();
        assert_eq!(flag.reason, FlagReason::Overridden);
        assert_eq!(flag.concurrent_with, vec![b.id]);
    }

    /// Every pair of steps that can both be taken from the same state on two offline phones,
    /// merged: the complete decision table, written to `docs/hazard-decision-table.md` (a
    /// snapshot: a change to the fold that changes an outcome fails here; rerun with
    /// `FIREGRID_UPDATE_SNAPSHOTS=1` after a deliberate change and review the diff).
    #[test]
    fn the_decision_table_covers_every_pair_of_concurrent_steps() {
        use HazardEventKind as K;
        let office_a = user(Role::StreetOffice);
        let mut office_b = user(Role::StreetOffice);
        office_b.id = "u.office_b".into();
        let field_a = user(Role::GridPatroller);
        let mut field_b = user(Role::ResidentialWorker);
        field_b.id = "u.field_b".into();
        let bases: Vec<(&str, Vec<(HazardEventKind, crate::access::User)>)> = vec![
            ("discovered", vec![]),
            ("filed", vec![(K::Filed, office_a.clone())]),
            (
                "dispatched to two departments",
                vec![
                    (K::Filed, office_a.clone()),
                    (K::Dispatched, office_a.clone()),
                ],
            ),
            (
                "handled on the spot",
                vec![(K::FixReported, field_a.clone())],
            ),
            (
                "handled by two departments",
                vec![
                    (K::Filed, office_a.clone()),
                    (K::Dispatched, office_a.clone()),
                    (K::Handled, dept("dept.a")),
                    (K::Handled, dept("dept.b")),
                ],
            ),
            (
                "verified",
                vec![
                    (K::FixReported, field_a.clone()),
                    (K::Verified, office_a.clone()),
                ],
            ),
            (
                "closed and listed",
                vec![
                    (K::Listed, office_a.clone()),
                    (K::FixReported, field_a.clone()),
                    (K::Verified, office_a.clone()),
                    (K::Closed, office_a.clone()),
                ],
            ),
        ];
        // Who takes a step on each phone: phone A and phone B never share a user.
        let actor = |kind: HazardEventKind, phone_b: bool| match kind {
            K::Handled => dept(if phone_b { "dept.b" } else { "dept.a" }),
            K::FixReported | K::Reopened | K::Discovered => {
                if phone_b {
                    field_b.clone()
                } else {
                    field_a.clone()
                }
            }
            _ => {
                if phone_b {
                    office_b.clone()
                } else {
                    office_a.clone()
                }
            }
        };
        let mut out = String::from(
            "# Hazard decision table: every pair of concurrent steps\n\n\
             Generated by `core/src/hazard/lifecycle.rs`\n\
             (`the_decision_table_covers_every_pair_of_concurrent_steps`) from the fold itself:\n\
             for each state, every pair of steps that are each allowed on their own phone, taken\n\
             concurrently (neither phone saw the other's) and merged. \"flagged\" names the step\n\
             the merge did not apply as written; it stays in the history on every replica.\n\
             The principle and the ranks are in ARCHITECTURE.md (the hazard closed loop).\n",
        );
        let mut pairs = 0;
        for (name, steps) in &bases {
            let mut base = hazard();
            for (kind, who) in steps {
                push(&mut base, *kind, who);
            }
            assert!(fold(&base, &CTX).flags.is_empty(), "base {name} is clean");
            let heads = event_heads(&base.events);
            let enabled = |kind: HazardEventKind, phone_b: bool, n: u32| {
                let mut h = base.clone();
                let e = event(kind, &actor(kind, phone_b), n, heads.clone());
                let id = e.id.clone();
                h.events.push(e.clone());
                fold(&h, &CTX)
                    .flag_of(&id)
                    .is_none_or(|f| !f.reason.ignored())
                    .then_some(e)
            };
            out.push_str(&format!(
                "\n## From \"{name}\"\n\n| phone A | phone B | merged state | flagged |\n|---|---|---|---|\n"
            ));
            for (i, ka) in HazardEventKind::ALL.iter().enumerate() {
                for kb in &HazardEventKind::ALL[i..] {
                    let (Some(a), Some(b)) = (enabled(*ka, false, 900), enabled(*kb, true, 901))
                    else {
                        continue;
                    };
                    let mut h = base.clone();
                    h.events.push(a.clone());
                    h.events.push(b.clone());
                    let s = fold(&h, &CTX);
                    let flagged: Vec<String> = s
                        .flags
                        .iter()
                        .map(|f| {
                            let who = if f.event == a.id { "A" } else { "B" };
                            format!("{who}: {}", f.reason)
                        })
                        .collect();
                    let mut state = s.status.as_str().to_string();
                    if !s.departments.is_empty() {
                        state.push_str(&format!(" (departments {})", s.departments.join(", ")));
                    }
                    if let Some(level) = s.listed() {
                        state.push_str(&format!(", listed ({level})"));
                    }
                    out.push_str(&format!(
                        "| {ka} | {kb} | {state} | {} |\n",
                        if flagged.is_empty() {
                            "—".to_string()
                        } else {
                            flagged.join("; ")
                        }
                    ));
                    pairs += 1;
                }
            }
        }
        assert!(pairs > 40, "{pairs} pairs");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/hazard-decision-table.md");
        if std::env::var_os("FIREGRID_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &out).unwrap();
            return;
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == out,
            "docs/hazard-decision-table.md is not what the fold does; rerun with FIREGRID_UPDATE_SNAPSHOTS=1 and review the diff"
        );
    }

    /// Random histories made by several phones appending concurrently and merging at random
    /// points: the fold gives the same state for any order and duplication of the events.
    #[derive(Debug, Clone)]
    enum Op {
        Act {
            phone: usize,
            kind: usize,
            actor: usize,
        },
        Merge {
            from: usize,
            to: usize,
        },
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                3 => (0..4usize, 0..HazardEventKind::ALL.len(), 0..5usize)
                    .prop_map(|(phone, kind, actor)| Op::Act { phone, kind, actor }),
                1 => (0..4usize, 0..4usize).prop_map(|(from, to)| Op::Merge { from, to }),
            ],
            1..40,
        )
    }

    fn history(ops: &[Op]) -> Vec<HazardEvent> {
        let root = hazard();
        let mut phones: Vec<Vec<HazardEvent>> = vec![root.events; 4];
        let actors = [
            user(Role::GridPatroller),
            user(Role::StreetOffice),
            dept("dept.a"),
            dept("dept.b"),
            user(Role::ResidentialWorker),
        ];
        let mut n = 0;
        for op in ops {
            match op {
                Op::Act { phone, kind, actor } => {
                    n += 1;
                    let kind = HazardEventKind::ALL[*kind];
                    // Mostly a role that may make it, sometimes not.
                    let who = actors[*actor].clone();
                    let e = event(kind, &who, n, event_heads(&phones[*phone]));
                    phones[*phone].push(e);
                }
                Op::Merge { from, to } => {
                    let add: Vec<HazardEvent> = phones[*from]
                        .iter()
                        .filter(|e| phones[*to].iter().all(|x| x.id != e.id))
                        .cloned()
                        .collect();
                    phones[*to].extend(add);
                }
            }
        }
        let mut all: Vec<HazardEvent> = Vec::new();
        for p in phones {
            for e in p {
                if all.iter().all(|x| x.id != e.id) {
                    all.push(e);
                }
            }
        }
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("FIREGRID_FOLD_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500)
        ))]
        #[test]
        fn the_fold_ignores_event_order_and_duplicates(
            ops in ops(),
            perm in prop::collection::vec(any::<u32>(), 80),
            dups in prop::collection::vec(any::<u8>(), 80),
        ) {
            let events = history(&ops);
            let mut h = hazard();
            h.events = events.clone();
            let reference = fold(&h, &CTX);
            // Shuffle by the random keys, duplicate some events.
            let mut keyed: Vec<(u32, HazardEvent)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| (perm[i % perm.len()].wrapping_add(i as u32), e.clone()))
                .collect();
            for (i, e) in events.iter().enumerate() {
                if dups[i % dups.len()] % 4 == 0 {
                    keyed.push((perm[(i * 7) % perm.len()], e.clone()));
                }
            }
            keyed.sort_by_key(|(k, _)| *k);
            h.events = keyed.into_iter().map(|(_, e)| e).collect();
            let shuffled = fold(&h, &CTX);
            prop_assert_eq!(&reference, &shuffled);
            // Every event is accounted for: applied or flagged, never lost.
            prop_assert_eq!(reference.order.len(), events.len());
        }
    }
}
