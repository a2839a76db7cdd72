//! Hazards on the device: direct reports, the closed loop's actions, and the lists made from
//! the folded cases (per premises, reminders, focused supervision, suspected major hazards).
//! Hazard drafts from failed items are created by `inspections::finish_inspection`.
//!
//! Every action appends one event and is checked by the same fold every replica runs: an
//! action the fold would ignore (wrong role, outside the scope, wrong state, missing evidence)
//! is refused before anything is written, with the fold's reason.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction, params};

use super::premises::{in_scope, scope_condition};
use super::record::{self, Author, RecordKind};
use super::{Store, index, require_user};
use crate::access::{Place, Role, Scope, ScopeKind, User};
use crate::hazard::rules::{HazardRules, MajorSuspicion, suspect_major};
use crate::hazard::{
    CaseState, Finding, FocusMark, FocusReason, FoldContext, Hazard, HazardAction, HazardCase,
    HazardEvent, HazardOrigin, HazardStatus, HazardSummary, NewHazard, Reminders, fold, lifecycle,
    may,
};
use crate::inspection::{MAX_NOTE_CHARS, MAX_PHOTOS_PER_ITEM};
use crate::premises::{Premises, Subtype};
use crate::standard::Standard;
use crate::vocab::{Localized, PhotoRef, validate_id};
use crate::{Error, Result};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Latest deadline or target date accepted: 2100-01-01.
const MAX_DATE_MS: i64 = 4_102_444_800_000;

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

/// Keeps the street's hazard rules where every fold can read them cheaply (written when the
/// street record is materialised).
pub(super) fn save_rules(tx: &Transaction<'_>, rules: Option<&HazardRules>) -> Result<()> {
    match rules {
        Some(r) => {
            let json = serde_json::to_string(r).map_err(|e| Error::corrupt("street", e))?;
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('hazard_rules', ?1)",
                [json],
            )?;
        }
        None => {
            tx.execute("DELETE FROM meta WHERE key = 'hazard_rules'", [])?;
        }
    }
    Ok(())
}

/// The street's hazard rules (defaults until a street record sets them).
pub(super) fn rules(tx: &Transaction<'_>) -> Result<HazardRules> {
    let json: Option<String> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = 'hazard_rules'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

/// Where a premises lies, with the stations serving its community. `None` when the premises
/// is not on this device.
fn place_of(tx: &Transaction<'_>, premises_id: &str) -> Result<Option<Place>> {
    let row: Option<(String, String)> = tx
        .prepare_cached("SELECT community_id, grid_id FROM premises WHERE id = ?1")?
        .query_row([premises_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((community, grid)) = row else {
        return Ok(None);
    };
    let stations = tx
        .prepare_cached("SELECT station_id FROM station_community WHERE community_id = ?1")?
        .query_map([&community], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Some(Place {
        community,
        grid,
        stations,
    }))
}

/// Whether a user scope covers a place. For a premises not on this device every area scope
/// passes: the server checked the scope of every event at sync, and the fold still checks
/// roles and states.
fn covers(place: Option<&Place>, scope: &Scope) -> bool {
    match place {
        Some(p) => p.covered_by(scope),
        None => scope.kind != ScopeKind::Department,
    }
}

/// Folds a hazard with this device's knowledge of its place and the street's rules.
pub(super) fn fold_case(tx: &Transaction<'_>, h: &Hazard) -> Result<CaseState> {
    let place = place_of(tx, &h.premises)?;
    let rules = rules(tx)?;
    let covers = |s: &Scope| covers(place.as_ref(), s);
    Ok(fold(
        h,
        &FoldContext {
            covers: &covers,
            far_m: f64::from(rules.far_from_before_m),
        },
    ))
}

/// The closed case this finding recurs, if any: same premises and checklist item, closed
/// within the street's window before `found_ms`. Returns its id and chain length.
pub(super) fn recurrence_for(
    tx: &Transaction<'_>,
    premises_id: &str,
    item_id: &str,
    found_ms: i64,
) -> Result<Option<(String, u32)>> {
    let rules = rules(tx)?;
    let last: Option<(String, u32, i64)> = tx
        .prepare_cached(
            "SELECT id, recurrence, closed_ms FROM hazard
              WHERE premises_id = ?1 AND item_id = ?2 AND status = 'closed' AND closed_ms IS NOT NULL
              ORDER BY closed_ms DESC, id LIMIT 1",
        )?
        .query_row(params![premises_id, item_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    Ok(last
        .filter(|(_, _, closed)| rules.recurs(*closed, found_ms))
        .map(|(id, n, _)| (id, n)))
}

const SUMMARY_COLUMNS: &str = "h.id, h.premises_id, h.inspection_id, h.item_id, h.status,
    h.severity, h.title_zh, h.title_en, h.discovered_ms, h.mode, h.deadline_ms, h.departments,
    h.supervision, h.recurrence, h.recurrence_of, h.flags";

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<HazardSummary>> {
    let id: String = r.get(0)?;
    let status: String = r.get(4)?;
    let severity: String = r.get(5)?;
    let mode: Option<String> = r.get(9)?;
    let departments: String = r.get(11)?;
    let supervision: Option<String> = r.get(12)?;
    let parsed = (|| -> Result<HazardSummary> {
        Ok(HazardSummary {
            status: status
                .parse()
                .map_err(|_| Error::corrupt(&id, "hazard status"))?,
            severity: severity
                .parse()
                .map_err(|_| Error::corrupt(&id, "hazard severity"))?,
            mode: mode
                .map(|m| m.parse())
                .transpose()
                .map_err(|_| Error::corrupt(&id, "hazard mode"))?,
            supervision: supervision
                .map(|m| m.parse())
                .transpose()
                .map_err(|_| Error::corrupt(&id, "hazard supervision"))?,
            departments: departments
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            premises: r.get(1)?,
            inspection: r.get(2)?,
            item: r.get(3)?,
            title: Localized {
                zh: r.get(6)?,
                en: r.get(7)?,
            },
            discovered_ms: r.get(8)?,
            deadline_ms: r.get(10)?,
            recurrence: r.get(13)?,
            recurrence_of: r.get(14)?,
            flagged: r.get(15)?,
            id: id.clone(),
        })
    })();
    Ok(parsed)
}

fn summaries(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<HazardSummary>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params, summary_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// The SQL condition (on `hazard h`) for the cases a user works on: a department's
/// dispatched cases, otherwise the cases at premises in the user's scope.
fn cases_of(user: &User) -> (String, Vec<Value>) {
    if user.role == Role::Department {
        (
            "h.departments LIKE ?".to_string(),
            vec![Value::Text(format!("%,{},%", user.scope.id))],
        )
    } else {
        let (c, p) = scope_condition(&user.scope);
        (
            format!("h.premises_id IN (SELECT p.id FROM premises p WHERE {c})"),
            p,
        )
    }
}

fn check_text(field: &'static str, text: &str) -> Result<()> {
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_required_text(field: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check_text(field, text)
}

fn check_photos(photos: &[PhotoRef]) -> Result<()> {
    if photos.len() > MAX_PHOTOS_PER_ITEM {
        return Err(Error::invalid(
            "photos",
            format!("at most {MAX_PHOTOS_PER_ITEM}"),
        ));
    }
    photos.iter().try_for_each(PhotoRef::validate)
}

fn check_date(field: &'static str, ms: i64) -> Result<()> {
    if !(0..=MAX_DATE_MS).contains(&ms) {
        return Err(Error::invalid(
            field,
            "must be a date between 1970 and 2100",
        ));
    }
    Ok(())
}

/// Checks what the user typed, before any transaction.
fn validate_action(action: &HazardAction) -> Result<()> {
    let note = |n: &Option<String>| n.as_deref().map_or(Ok(()), |n| check_text("note", n));
    match action {
        HazardAction::File {
            deadline_ms,
            note: n,
        } => {
            if let Some(d) = deadline_ms {
                check_date("deadline_ms", *d)?;
            }
            note(n)
        }
        HazardAction::Dispatch {
            departments,
            note: n,
        } => {
            if departments.is_empty() {
                return Err(Error::invalid(
                    "departments",
                    "name at least one department",
                ));
            }
            if departments.len() > 32 {
                return Err(Error::invalid("departments", "at most 32"));
            }
            departments
                .iter()
                .try_for_each(|d| validate_id("department_id", d))?;
            note(n)
        }
        HazardAction::ReportFix { photos, note: n } | HazardAction::Verify { photos, note: n } => {
            if photos.is_empty() {
                return Err(Error::invalid("photos", "an after photo is required"));
            }
            check_photos(photos)?;
            note(n)
        }
        HazardAction::ReportHandling { photos, note: n } => {
            if photos.is_empty() {
                return Err(Error::invalid("photos", "evidence photos are required"));
            }
            check_photos(photos)?;
            check_required_text("note", n)
        }
        HazardAction::FailVerification {
            reason,
            deadline_ms,
        } => {
            if let Some(d) = deadline_ms {
                check_date("deadline_ms", *d)?;
            }
            check_required_text("reason", reason)
        }
        HazardAction::Close { note: n } | HazardAction::Delist { note: n } => note(n),
        HazardAction::Reopen { reason } => check_required_text("reason", reason),
        HazardAction::SetDeadline {
            deadline_ms,
            note: n,
        } => {
            check_date("deadline_ms", *deadline_ms)?;
            note(n)
        }
        HazardAction::List {
            reason, target_ms, ..
        } => {
            check_date("target_ms", *target_ms)?;
            check_required_text("reason", reason)
        }
        HazardAction::NoteProgress { note: n } => check_required_text("note", n),
    }
}

/// The event an action appends, by `user` on this device, after the events it has seen.
fn event_for(
    action: HazardAction,
    hazard: &Hazard,
    user: &User,
    device: &str,
    at_ms: i64,
    rules: &HazardRules,
) -> HazardEvent {
    let mut e = HazardEvent {
        id: crate::vocab::new_id("ev"),
        kind: action.kind(),
        by: user.id.clone(),
        device: device.to_string(),
        at_ms,
        note: None,
        after: lifecycle::event_heads(&hazard.events),
        role: Some(user.role),
        scope: Some(user.scope.clone()),
        photos: Vec::new(),
        departments: Vec::new(),
        deadline_ms: None,
        level: None,
    };
    let trimmed = |n: Option<String>| n.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    match action {
        HazardAction::File { deadline_ms, note } => {
            e.deadline_ms =
                Some(deadline_ms.unwrap_or_else(|| rules.deadline_for(hazard.severity, at_ms)));
            e.note = trimmed(note);
        }
        HazardAction::Dispatch { departments, note } => {
            let mut d = departments;
            d.sort();
            d.dedup();
            e.departments = d;
            e.note = trimmed(note);
        }
        HazardAction::ReportFix { photos, note } | HazardAction::Verify { photos, note } => {
            e.photos = photos;
            e.note = trimmed(note);
        }
        HazardAction::ReportHandling { photos, note } => {
            e.photos = photos;
            e.note = trimmed(Some(note));
        }
        HazardAction::FailVerification {
            reason,
            deadline_ms,
        } => {
            e.note = trimmed(Some(reason));
            e.deadline_ms = deadline_ms;
        }
        HazardAction::Close { note } | HazardAction::Delist { note } => e.note = trimmed(note),
        HazardAction::Reopen { reason } => {
            e.note = trimmed(Some(reason));
            e.deadline_ms = Some(rules.deadline_for(hazard.severity, at_ms));
        }
        HazardAction::SetDeadline { deadline_ms, note } => {
            e.deadline_ms = Some(deadline_ms);
            e.note = trimmed(note);
        }
        HazardAction::List {
            level,
            reason,
            target_ms,
        } => {
            e.level = Some(level);
            e.deadline_ms = Some(target_ms);
            e.note = trimmed(Some(reason));
        }
        HazardAction::NoteProgress { note } => e.note = trimmed(Some(note)),
    }
    e
}

/// The premises' subtypes, and the GB 35181 elements of its open hazards.
fn major_suspicion_of(tx: &Transaction<'_>, premises_id: &str) -> Result<Option<MajorSuspicion>> {
    let mut stmt = tx.prepare_cached(
        "SELECT elements FROM hazard WHERE premises_id = ?1 AND status <> 'closed' AND elements <> ''",
    )?;
    let lists = stmt
        .query_map([premises_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if lists.is_empty() {
        return Ok(None);
    }
    let refs: Vec<&str> = lists
        .iter()
        .flat_map(|l| l.split(','))
        .filter(|r| !r.is_empty())
        .collect();
    let subtypes: Vec<Subtype> =
        match record::get::<Premises>(tx, RecordKind::Premises, premises_id) {
            Ok(p) => p.subtypes,
            Err(Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
    let standards = standards(tx)?;
    Ok(suspect_major(&standards, &subtypes, refs))
}

fn standards(tx: &Transaction<'_>) -> Result<Vec<Standard>> {
    let ids = tx
        .prepare_cached("SELECT DISTINCT record_id FROM standard_element ORDER BY record_id")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    ids.iter()
        .map(|id| record::get(tx, RecordKind::Standard, id))
        .collect()
}

fn case_of(
    tx: &Transaction<'_>,
    hazard: Hazard,
    state: CaseState,
    now_ms: i64,
) -> Result<HazardCase> {
    let rules = rules(tx)?;
    let suspected_major = if state.is_open() {
        major_suspicion_of(tx, &hazard.premises)?
    } else {
        None
    };
    Ok(HazardCase {
        proposes_district_listing: suspected_major.is_some()
            && state.listed() != Some(crate::hazard::SupervisionLevel::District),
        overdue: state.overdue(now_ms),
        proposes_listing: rules.proposes_listing(hazard.recurrence) && state.listed().is_none(),
        suspected_major,
        photo_pairs: lifecycle::photo_pairs(&hazard, f64::from(rules.far_from_before_m)),
        hazard,
        state,
    })
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
                elements: Vec::new(),
                recurrence: None,
            };
            let hazard = Hazard::discovered(finding, &user, &self.device_id, author.time_ms);
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
            summaries(
                tx,
                &format!(
                    "SELECT {SUMMARY_COLUMNS} FROM hazard h WHERE h.premises_id = ?1
                     ORDER BY h.discovered_ms DESC, h.id"
                ),
                [premises_id],
            )
        })
    }

    /// One case: the record, its folded state and the proposals made from it.
    pub fn hazard_case(&self, id: &str) -> Result<HazardCase> {
        validate_id("hazard_id", id)?;
        self.read(|tx| {
            let hazard: Hazard = record::get(tx, RecordKind::Hazard, id)?;
            let state = fold_case(tx, &hazard)?;
            case_of(tx, hazard, state, crate::vocab::now_ms())
        })
    }

    /// Takes one step of a hazard's closed loop as the signed-in user: appends the event and
    /// updates the case's columns in one transaction. Refused, with nothing written, when the
    /// role may not take the step ([`Error::Forbidden`]), the case is outside the user's scope
    /// (or not dispatched to their department), or the case's state or the evidence does not
    /// allow it ([`Error::HazardTransition`]).
    pub fn hazard_action(&self, hazard_id: &str, action: HazardAction) -> Result<HazardCase> {
        validate_id("hazard_id", hazard_id)?;
        validate_action(&action)?;
        self.write(|tx| {
            let user = require_user(tx)?;
            let kind = action.kind();
            if !may(user.role, kind) {
                return Err(Error::Forbidden(format!(
                    "role {} may not record {kind} on a hazard",
                    user.role
                )));
            }
            let doc = record::load(tx, RecordKind::Hazard, hazard_id)?;
            let mut hazard: Hazard = record::hydrate(hazard_id, &doc)?;
            if user.role != Role::Department && !in_scope(tx, &user.scope, &hazard.premises)? {
                return Err(Error::Forbidden(format!(
                    "hazard {hazard_id} is outside the user's scope"
                )));
            }
            if let HazardAction::Dispatch { departments, .. } = &action {
                for d in departments {
                    let known: Option<String> = tx
                        .query_row("SELECT kind FROM org_unit WHERE id = ?1", [d], |r| r.get(0))
                        .optional()?;
                    if known.as_deref() != Some("department") {
                        return Err(Error::not_found("department", d));
                    }
                }
            }
            let author = Author::device(&self.actor);
            let rules = rules(tx)?;
            let event = event_for(
                action,
                &hazard,
                &user,
                &self.device_id,
                author.time_ms,
                &rules,
            );
            let event_id = event.id.clone();
            hazard.events.push(event);
            let state = fold_case(tx, &hazard)?;
            if let Some(flag) = state.flag_of(&event_id).filter(|f| f.reason.ignored()) {
                if flag.reason.unauthorized() {
                    return Err(Error::Forbidden(format!(
                        "{kind} on hazard {hazard_id}: {}",
                        flag.reason.text().en
                    )));
                }
                return Err(Error::HazardTransition {
                    hazard_id: hazard_id.to_string(),
                    action: kind.as_str().to_string(),
                    status: flag.status_then.as_str().to_string(),
                    reason: flag.reason.as_str().to_string(),
                });
            }
            record::put(
                tx,
                RecordKind::Hazard,
                hazard_id,
                doc,
                &hazard,
                &author,
                kind.as_str(),
            )?;
            index::hazard_row_folded(tx, hazard_id, &hazard, &state)?;
            case_of(tx, hazard, state, author.time_ms)
        })
    }

    /// The cases the signed-in user works on (a department: those dispatched to it; others:
    /// those in their area), optionally of one status: the soonest deadline first, then the
    /// newest. Paged like the premises list.
    pub fn my_hazards(
        &self,
        status: Option<HazardStatus>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<HazardSummary>> {
        let (limit, offset) = super::premises::page(limit, offset)?;
        self.read(|tx| {
            let user = require_user(tx)?;
            let (cond, mut params) = cases_of(&user);
            let status_cond = match status {
                Some(st) => {
                    params.push(Value::Text(st.as_str().to_string()));
                    "AND h.status = ?"
                }
                None => "",
            };
            params.push(Value::Integer(limit));
            params.push(Value::Integer(offset));
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM hazard h WHERE {cond} {status_cond}
                  ORDER BY h.deadline_ms IS NULL, h.deadline_ms, h.discovered_ms DESC, h.id
                  LIMIT ? OFFSET ?"
            );
            summaries(tx, &sql, rusqlite::params_from_iter(params))
        })
    }

    /// The signed-in user's deadline reminders at `now_ms`, offline: overdue, due today and
    /// due in the next seven days. "Today" ends at local midnight for `utc_offset_minutes`
    /// (Shanghai: 480). Field roles see their area's cases, departments what is dispatched to
    /// them, the office everything.
    pub fn hazard_reminders(&self, now_ms: i64, utc_offset_minutes: i32) -> Result<Reminders> {
        if !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(Error::invalid(
                "utc_offset_minutes",
                "must be between -840 and 840",
            ));
        }
        self.read(|tx| {
            let user = require_user(tx)?;
            let offset = i64::from(utc_offset_minutes) * 60_000;
            let local = now_ms.saturating_add(offset);
            let end_of_today = local - local.rem_euclid(DAY_MS) + DAY_MS - offset;
            let end_of_week = end_of_today + 7 * DAY_MS;
            let (cond, mut params) = cases_of(&user);
            params.push(Value::Integer(end_of_week));
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM hazard h
                  WHERE {cond} AND h.status IN ('discovered', 'filed', 'dispatched')
                    AND h.deadline_ms IS NOT NULL AND h.deadline_ms < ?
                  ORDER BY h.deadline_ms, h.id"
            );
            let mut out = Reminders::default();
            for s in summaries(tx, &sql, rusqlite::params_from_iter(params))? {
                let d = s.deadline_ms.unwrap_or_default();
                if d < now_ms {
                    out.overdue.push(s);
                } else if d < end_of_today {
                    out.due_today.push(s);
                } else {
                    out.due_this_week.push(s);
                }
            }
            Ok(out)
        })
    }

    /// Premises marked for focused supervision at `now_ms` (repeated hazards within the
    /// street's window, an open serious or suspected major hazard, a recurrence, a listing),
    /// within the signed-in user's scope. The scheduling raises their inspection frequency.
    pub fn focus_premises(&self, now_ms: i64) -> Result<Vec<FocusMark>> {
        self.read(|tx| {
            let user = require_user(tx)?;
            let rules = rules(tx)?;
            let (cond, mut params) = scope_condition(&user.scope);
            params.insert(0, Value::Integer(rules.focus_since(now_ms)));
            let sql = format!(
                "SELECT h.premises_id,
                        sum(h.discovered_ms >= ?),
                        max(h.status <> 'closed' AND h.severity = 'serious'),
                        max(h.status <> 'closed' AND h.severity = 'major_candidate'),
                        max(h.recurrence > 0),
                        max(h.supervision IS NOT NULL)
                   FROM hazard h JOIN premises p ON p.id = h.premises_id
                  WHERE {cond}
                  GROUP BY h.premises_id ORDER BY h.premises_id"
            );
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (premises, n, serious, major, recurring, listed) = row?;
                let mut reasons = Vec::new();
                if n >= i64::from(rules.focus_min_hazards) {
                    reasons.push(FocusReason::RepeatedHazards);
                }
                if serious {
                    reasons.push(FocusReason::SeriousHazard);
                }
                if major {
                    reasons.push(FocusReason::MajorCandidate);
                }
                if recurring {
                    reasons.push(FocusReason::Recurring);
                }
                if listed {
                    reasons.push(FocusReason::Listed);
                }
                if !reasons.is_empty() {
                    out.push(FocusMark {
                        premises,
                        reasons,
                        hazards_in_window: u32::try_from(n).unwrap_or(u32::MAX),
                    });
                }
            }
            Ok(out)
        })
    }

    /// Why a premises' open hazards suggest a major fire hazard under GB 35181, if they do:
    /// for the office's collective determination (the software never declares one).
    pub fn major_suspicion(&self, premises_id: &str) -> Result<Option<MajorSuspicion>> {
        validate_id("premises_id", premises_id)?;
        self.read(|tx| major_suspicion_of(tx, premises_id))
    }
}
