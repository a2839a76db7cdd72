//! The hazard ledger (隐患台账): every hazard the viewer may see, with its full history — who,
//! what, when, evidence references — as an `.xlsx` workbook or CSV, filtered by period,
//! community, premises category, status and listed supervision.
//!
//! Owns: reading the hazard documents from a [`SyncStorage`] (scope-checked with
//! [`may_read`]), folding each with the core's [`fold`] (the same state every device shows),
//! joining premises, organisation and user names, and writing the two tables. It must not
//! write to the storage, decide who may export (the HTTP route and the admin command do: the
//! street office and administrators), or log personal data (names, addresses, notes).
//!
//! # What is exported
//!
//! Two tables; headers in Chinese by default, in English with `lang=en` (labels too):
//!
//! **Cases** (`隐患台账` / `Cases`), one row per hazard, ordered by discovery time then id:
//! 隐患编号 (id), 发现时间, 社区, 网格, 场所名称, 地址, 场所类别, 隐患描述, 严重程度, 状态,
//! 整改方式, 整改期限, 是否逾期 (at export time), 派遣部门, 挂牌督办 (the level in force, or
//! marked 已摘牌 when delisted), 督办目标日期, 反复回潮(次), 关联前案, 结案时间,
//! 异常事件数 (events the fold flagged: ignored, overridden or with a warning).
//!
//! **Events** (`处置记录` / `History`), the full history of the same cases, one row per event
//! in the fold's order (`CaseState::order`), cases in the order above: 隐患编号, 序号 (1…),
//! 时间, 操作, 操作人 (the user's name, else their id), 角色, 设备, 说明, 证据照片(SHA-256)
//! (joined by `;`), 派遣部门, 期限 (a deadline, or a listing's target date), 标记 (why the fold
//! flagged the event, if it did). The discovery row carries the hazard's finder note and
//! "before" photos.
//!
//! Lists inside a cell (departments, photos, flags) are joined by `;`. Times are device clock
//! times (display only, D9) shown as Asia/Shanghai local time (UTC+8, no daylight saving):
//! `YYYY-MM-DD HH:MM` text in CSV, real date cells (`yyyy-mm-dd hh:mm`, to the minute) in xlsx.
//!
//! # Filters
//!
//! - `from`, `to`: dates `YYYY-MM-DD` in Shanghai time, both inclusive: a case is selected
//!   when **any of its events** happened in the period (so a case found last year and closed
//!   this month is in this month's ledger). Its whole history is exported, not only the
//!   events in the period.
//! - `community`: a community id (`com.01`); `category`: `residential`, `street_shop`,
//!   `large_site`; `status`: `discovered`, `filed`, `dispatched`, `handled`, `verified`,
//!   `closed` (the folded status); `supervision`: `street` or `district` (a listing of that
//!   level in force). Empty values do not filter; unknown values are refused.
//!
//! # Files
//!
//! xlsx: two worksheets, bold frozen header row, column widths, an autofilter; every text is
//! written as a string cell (never a formula); rows go to a temporary file as they are
//! written (`rust_xlsxwriter`'s low-memory mode). CSV (`table=cases|events`): UTF-8 with a BOM
//! (so Excel reads the Chinese), RFC 4180 quoting, CRLF line ends; a text cell starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` so no spreadsheet runs it
//! as a formula.
//!
//! # Bounds
//!
//! Documents are read one at a time; only the rows are kept. A filter selecting more than
//! [`MAX_CASES`] cases or [`MAX_EVENTS`] events is refused ([`LedgerError::TooLarge`], a 400)
//! as soon as the count passes the bound: narrow the period or the community.

use std::collections::HashMap;
use std::io::Write;

use firegrid_core::access::{Place, Role, ScopeKind, User};
use firegrid_core::district::{Community, Department, Grid, Street};
use firegrid_core::hazard::{
    FlagReason, FoldContext, Hazard, HazardEventKind, HazardRules, HazardStatus, Rectification,
    Severity, SupervisionLevel, fold,
};
use firegrid_core::premises::{Category, Premises};
use firegrid_core::store::RecordKind;
use firegrid_core::vocab::Localized;
use serde::Deserialize;

use crate::sync::{DocScope, SyncStorage, may_read};

/// Most cases one export may hold.
pub const MAX_CASES: usize = 50_000;
/// Most events (history rows) one export may hold.
pub const MAX_EVENTS: usize = 500_000;

/// Excel's longest cell text, in characters.
const MAX_CELL_CHARS: usize = 32_767;
const MINUTE_MS: i64 = 60 * 1000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// Asia/Shanghai: UTC+8 all year.
const SHANGHAI_OFFSET_MS: i64 = 8 * 60 * MINUTE_MS;
/// Dates accepted in a filter: 1970-01-01 to 2100-12-31.
const MIN_YEAR: i64 = 1970;
const MAX_YEAR: i64 = 2100;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A filter or option has a value that is not accepted.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The filter selects more than the ledger holds at once.
    #[error(
        "the filter selects more than {limit} {what}; narrow it (a shorter period, one community, a status)"
    )]
    TooLarge {
        /// `cases` or `events`.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// Reading the storage failed.
    #[error(transparent)]
    Data(#[from] firegrid_core::Error),
    /// Writing the file failed.
    #[error("cannot write the ledger: {0}")]
    Write(String),
}

impl LedgerError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> LedgerError {
        LedgerError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<rust_xlsxwriter::XlsxError> for LedgerError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        LedgerError::Write(e.to_string())
    }
}

impl From<csv::Error> for LedgerError {
    fn from(e: csv::Error) -> Self {
        LedgerError::Write(e.to_string())
    }
}

impl From<std::io::Error> for LedgerError {
    fn from(e: std::io::Error) -> Self {
        LedgerError::Write(e.to_string())
    }
}

/// The result type of this module.
pub type Result<T> = std::result::Result<T, LedgerError>;

/// Whether a role may export the ledger: the street office and administrators.
pub fn may_export(role: Role) -> bool {
    matches!(role, Role::StreetOffice | Role::Admin)
}

/// The language of headers and labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` (or `zh-CN`) or `en`.
    pub fn parse(text: &str) -> Result<Lang> {
        match text {
            "zh" | "zh-CN" | "zh-Hans" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(LedgerError::invalid("lang", "expected zh or en")),
        }
    }

    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    fn of(self, text: &Localized) -> &str {
        match self {
            Lang::Zh => &text.zh,
            Lang::En => &text.en,
        }
    }
}

/// Which table of the ledger (a CSV file holds one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Table {
    /// One row per case.
    #[default]
    Cases,
    /// One row per event.
    Events,
}

impl Table {
    /// `cases` or `events`.
    pub fn parse(text: &str) -> Result<Table> {
        match text {
            "cases" => Ok(Table::Cases),
            "events" => Ok(Table::Events),
            _ => Err(LedgerError::invalid("table", "expected cases or events")),
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An Excel workbook with both tables.
    Xlsx,
    /// One table as CSV.
    Csv,
}

impl Format {
    /// `xlsx` or `csv`.
    pub fn parse(text: &str) -> Result<Format> {
        match text {
            "xlsx" => Ok(Format::Xlsx),
            "csv" => Ok(Format::Csv),
            _ => Err(LedgerError::invalid("format", "expected xlsx or csv")),
        }
    }

    /// The media type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Which cases the ledger holds. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFilter {
    /// Cases with an event at or after this time (ms)…
    pub from_ms: Option<i64>,
    /// …and before this time (ms): a case is selected when any event falls in `[from, to)`.
    pub to_ms: Option<i64>,
    /// Only cases at premises of this community (id).
    pub community: Option<String>,
    /// Only cases at premises of this category.
    pub category: Option<Category>,
    /// Only cases in this (folded) status.
    pub status: Option<HazardStatus>,
    /// Only cases under listed supervision of this level, in force.
    pub supervision: Option<SupervisionLevel>,
}

/// The export's parameters as text, as the HTTP query and the admin command take them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// First day of the period, `YYYY-MM-DD` (Shanghai), inclusive.
    pub from: Option<String>,
    /// Last day of the period, `YYYY-MM-DD` (Shanghai), inclusive.
    pub to: Option<String>,
    /// Community id.
    pub community: Option<String>,
    /// `residential`, `street_shop` or `large_site`.
    pub category: Option<String>,
    /// A hazard status.
    pub status: Option<String>,
    /// `street` or `district`.
    pub supervision: Option<String>,
    /// `zh` (default) or `en`.
    pub lang: Option<String>,
    /// CSV only: `cases` (default) or `events`.
    pub table: Option<String>,
}

/// A parameter's value, with empty text as absent.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl LedgerQuery {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Result<LedgerFilter> {
        let from_ms = given(&self.from)
            .map(|d| day_start("from", d))
            .transpose()?;
        let to_ms = given(&self.to)
            .map(|d| day_start("to", d).map(|ms| ms + DAY_MS))
            .transpose()?;
        if let (Some(f), Some(t)) = (from_ms, to_ms)
            && f >= t
        {
            return Err(LedgerError::invalid(
                "to",
                "the period ends before it starts",
            ));
        }
        let community = given(&self.community)
            .map(|c| {
                firegrid_core::vocab::validate_id("community", c)
                    .map(|()| c.to_string())
                    .map_err(|_| LedgerError::invalid("community", "not a community id"))
            })
            .transpose()?;
        fn parse<T: std::str::FromStr>(
            field: &'static str,
            v: &Option<String>,
            expected: &str,
        ) -> Result<Option<T>> {
            given(v)
                .map(|s| {
                    s.parse::<T>()
                        .map_err(|_| LedgerError::invalid(field, format!("expected {expected}")))
                })
                .transpose()
        }
        Ok(LedgerFilter {
            from_ms,
            to_ms,
            community,
            category: parse(
                "category",
                &self.category,
                "residential, street_shop or large_site",
            )?,
            status: parse(
                "status",
                &self.status,
                "discovered, filed, dispatched, handled, verified or closed",
            )?,
            supervision: parse("supervision", &self.supervision, "street or district")?,
        })
    }

    /// The language asked for (Chinese by default).
    pub fn lang(&self) -> Result<Lang> {
        given(&self.lang).map_or(Ok(Lang::Zh), Lang::parse)
    }

    /// The CSV table asked for (cases by default).
    pub fn table(&self) -> Result<Table> {
        given(&self.table).map_or(Ok(Table::Cases), Table::parse)
    }
}

/// One case of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    /// Hazard id.
    pub id: String,
    /// Discovery time (device clock, ms).
    pub discovered_ms: i64,
    /// Community name (its id when unknown).
    pub community: Localized,
    /// Grid name (its id when unknown).
    pub grid: Localized,
    /// Premises name (empty when the premises is unknown).
    pub premises_name: String,
    /// Premises address.
    pub address: String,
    /// Premises category.
    pub category: Option<Category>,
    /// What was found.
    pub title: Localized,
    /// Severity hint.
    pub severity: Severity,
    /// Folded status.
    pub status: HazardStatus,
    /// On the spot or by a deadline.
    pub mode: Option<Rectification>,
    /// Rectification deadline (ms).
    pub deadline_ms: Option<i64>,
    /// Past its deadline at export time.
    pub overdue: bool,
    /// Departments dispatched to (names).
    pub departments: Vec<Localized>,
    /// The latest listing: its level and whether it was delisted.
    pub listing: Option<(SupervisionLevel, bool)>,
    /// The listing's target date (ms).
    pub listing_target_ms: Option<i64>,
    /// Recurrence chain length (0: not recurring).
    pub recurrence: u32,
    /// The earlier case it recurs.
    pub recurrence_of: Option<String>,
    /// Close time (device clock, ms), while closed.
    pub closed_ms: Option<i64>,
    /// Events the fold flagged.
    pub flagged: usize,
    /// The history, in fold order.
    pub events: Vec<EventRow>,
}

/// One event of a case's history.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// 1, 2, … in fold order.
    pub seq: usize,
    /// Device clock time (ms).
    pub at_ms: i64,
    /// What happened.
    pub kind: HazardEventKind,
    /// A listing's level.
    pub level: Option<SupervisionLevel>,
    /// The author's name (their id when unknown).
    pub by: String,
    /// The author's role when they made it.
    pub role: Option<Role>,
    /// Device id.
    pub device: String,
    /// Note or reason.
    pub note: Option<String>,
    /// Evidence photos (SHA-256).
    pub photos: Vec<String>,
    /// Dispatch targets (names).
    pub departments: Vec<Localized>,
    /// A deadline or target date (ms).
    pub deadline_ms: Option<i64>,
    /// Why the fold flagged it.
    pub flags: Vec<FlagReason>,
}

/// The ledger: the selected cases with their histories.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ledger {
    /// When it was made (server clock, ms): overdue is judged at this time.
    pub generated_ms: i64,
    /// Cases, by discovery time then id.
    pub cases: Vec<CaseRow>,
    /// Hazard documents left out because they do not read as hazards (logged by id).
    pub skipped: Vec<String>,
}

impl Ledger {
    /// Number of history rows.
    pub fn event_count(&self) -> usize {
        self.cases.iter().map(|c| c.events.len()).sum()
    }
}

/// The street's organisation as the ledger shows it.
struct Org {
    communities: HashMap<String, Localized>,
    grids: HashMap<String, Localized>,
    departments: HashMap<String, Localized>,
    rules: HazardRules,
}

/// Every document of `kind` hydrated as `T` (the small organisation records).
fn load_all<T: autosurgeon::Hydrate>(
    storage: &dyn SyncStorage,
    kind: RecordKind,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (id, _) in storage.list_docs(kind)? {
        if let Some(v) = load::<T>(storage, &id, kind)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// One document hydrated as `T`, if it is stored, of `kind`, and reads as one.
fn load<T: autosurgeon::Hydrate>(
    storage: &dyn SyncStorage,
    id: &str,
    kind: RecordKind,
) -> Result<Option<T>> {
    let Some(stored) = storage.load_doc(id)? else {
        return Ok(None);
    };
    if stored.kind != kind {
        return Ok(None);
    }
    let doc = stored.to_automerge(id)?;
    match autosurgeon::hydrate::<_, T>(&doc) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            tracing::warn!(doc = %id, kind = %kind, error = %e, "record does not hydrate; left out of the ledger");
            Ok(None)
        }
    }
}

impl Org {
    fn load(storage: &dyn SyncStorage) -> Result<Org> {
        let communities = load_all::<Community>(storage, RecordKind::Community)?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let grids = load_all::<Grid>(storage, RecordKind::Grid)?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        let departments = load_all::<Department>(storage, RecordKind::Department)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let rules = load_all::<Street>(storage, RecordKind::Street)?
            .into_iter()
            .find_map(|s| s.hazard_rules)
            .unwrap_or_default();
        Ok(Org {
            communities,
            grids,
            departments,
            rules,
        })
    }

    fn department(&self, id: &str) -> Localized {
        self.departments
            .get(id)
            .cloned()
            .unwrap_or_else(|| same(id))
    }
}

/// The same text in both languages.
fn same(text: &str) -> Localized {
    Localized {
        zh: text.to_string(),
        en: text.to_string(),
    }
}

/// Caches of the records the rows join, loaded on first use.
struct Joins<'a> {
    storage: &'a dyn SyncStorage,
    premises: HashMap<String, Option<Premises>>,
    users: HashMap<String, String>,
    stations: HashMap<String, Vec<String>>,
    visible: HashMap<DocScope, bool>,
}

impl Joins<'_> {
    fn premises(&mut self, id: &str) -> Result<Option<&Premises>> {
        if !self.premises.contains_key(id) {
            let p = load::<Premises>(self.storage, id, RecordKind::Premises)?;
            self.premises.insert(id.to_string(), p);
        }
        Ok(self.premises.get(id).and_then(Option::as_ref))
    }

    fn user_name(&mut self, id: &str) -> Result<String> {
        if let Some(n) = self.users.get(id) {
            return Ok(n.clone());
        }
        let name = match load::<User>(self.storage, id, RecordKind::User)? {
            Some(u) if !u.name.trim().is_empty() => u.name,
            _ => id.to_string(),
        };
        self.users.insert(id.to_string(), name.clone());
        Ok(name)
    }

    fn station_communities(&mut self, station: &str) -> Result<&[String]> {
        if !self.stations.contains_key(station) {
            let c = self.storage.station_communities(station)?;
            self.stations.insert(station.to_string(), c);
        }
        Ok(self.stations.get(station).map_or(&[], Vec::as_slice))
    }

    fn may_read(&mut self, viewer: &User, scope: &DocScope) -> Result<bool> {
        if let Some(v) = self.visible.get(scope) {
            return Ok(*v);
        }
        let v = may_read(self.storage, viewer, scope)?;
        self.visible.insert(scope.clone(), v);
        Ok(v)
    }
}

/// Loads every hazard `viewer` may read that `filter` selects, folds it and joins what the
/// rows show. `now_ms` (the server's clock) judges overdue cases.
pub fn collect(
    storage: &dyn SyncStorage,
    viewer: &User,
    filter: &LedgerFilter,
    now_ms: i64,
) -> Result<Ledger> {
    collect_within(storage, viewer, filter, now_ms, (MAX_CASES, MAX_EVENTS))
}

/// [`collect`] with other bounds `(cases, events)` (tests).
fn collect_within(
    storage: &dyn SyncStorage,
    viewer: &User,
    filter: &LedgerFilter,
    now_ms: i64,
    (max_cases, max_events): (usize, usize),
) -> Result<Ledger> {
    let org = Org::load(storage)?;
    if let Some(c) = &filter.community
        && !org.communities.contains_key(c)
    {
        return Err(LedgerError::invalid(
            "community",
            "no community with this id",
        ));
    }
    let mut joins = Joins {
        storage,
        premises: HashMap::new(),
        users: HashMap::new(),
        stations: HashMap::new(),
        visible: HashMap::new(),
    };
    let mut ledger = Ledger {
        generated_ms: now_ms,
        ..Ledger::default()
    };
    let mut events = 0usize;
    for (id, scope) in storage.list_docs(RecordKind::Hazard)? {
        // Cheap checks on the scope columns first: no document load for what is left out.
        if !joins.may_read(viewer, &scope)? {
            continue;
        }
        if let Some(c) = &filter.community {
            match &scope {
                DocScope::Area { community, .. } if community == c => {}
                _ => continue,
            }
        }
        let Some(stored) = storage.load_doc(&id)? else {
            continue;
        };
        if stored.kind != RecordKind::Hazard {
            continue;
        }
        let hazard = match autosurgeon::hydrate::<_, Hazard>(&stored.to_automerge(&id)?) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(doc = %id, error = %e, "hazard does not hydrate; left out of the ledger");
                ledger.skipped.push(id);
                continue;
            }
        };
        if !in_period(&hazard, filter) {
            continue;
        }
        let Some(row) = case_row(&mut joins, &org, &hazard, filter, now_ms)? else {
            continue;
        };
        if ledger.cases.len() >= max_cases {
            return Err(LedgerError::TooLarge {
                what: "cases",
                limit: max_cases,
            });
        }
        events += row.events.len();
        if events > max_events {
            return Err(LedgerError::TooLarge {
                what: "events",
                limit: max_events,
            });
        }
        ledger.cases.push(row);
    }
    ledger
        .cases
        .sort_by(|a, b| (a.discovered_ms, &a.id).cmp(&(b.discovered_ms, &b.id)));
    Ok(ledger)
}

/// Whether any event of the case falls in the filter's period.
fn in_period(h: &Hazard, f: &LedgerFilter) -> bool {
    if f.from_ms.is_none() && f.to_ms.is_none() {
        return true;
    }
    h.events.iter().any(|e| {
        f.from_ms.is_none_or(|from| e.at_ms >= from) && f.to_ms.is_none_or(|to| e.at_ms < to)
    })
}

/// The case's row and history, or `None` when the filter leaves it out.
fn case_row(
    joins: &mut Joins<'_>,
    org: &Org,
    h: &Hazard,
    filter: &LedgerFilter,
    now_ms: i64,
) -> Result<Option<CaseRow>> {
    let premises = joins.premises(&h.premises)?.cloned();
    let category = premises.as_ref().map(Premises::category);
    if filter.category.is_some() && filter.category != category {
        return Ok(None);
    }
    // Which user scopes cover the case's premises, as the devices judge it.
    let mut place = premises
        .as_ref()
        .map(|p| Place {
            community: p.community.clone(),
            grid: p.grid.clone(),
            stations: Vec::new(),
        })
        .unwrap_or_default();
    for e in &h.events {
        if let Some(s) = e.scope.as_ref().filter(|s| s.kind == ScopeKind::Station)
            && premises.is_some()
            && !place.stations.contains(&s.id)
            && joins.station_communities(&s.id)?.contains(&place.community)
        {
            place.stations.push(s.id.clone());
        }
    }
    // An unknown premises (an empty place) is covered by the street scope only.
    let covers = |s: &firegrid_core::access::Scope| place.covered_by(s);
    let state = fold(
        h,
        &FoldContext {
            covers: &covers,
            far_m: f64::from(org.rules.far_from_before_m),
        },
    );
    if filter.status.is_some_and(|s| s != state.status) {
        return Ok(None);
    }
    if filter.supervision.is_some() && filter.supervision != state.listed() {
        return Ok(None);
    }

    let by_id: HashMap<&str, &firegrid_core::hazard::HazardEvent> =
        h.events.iter().rev().map(|e| (e.id.as_str(), e)).collect();
    let mut events = Vec::with_capacity(state.order.len());
    for (i, id) in state.order.iter().enumerate() {
        let Some(e) = by_id.get(id.as_str()) else {
            continue;
        };
        let discovery = e.kind == HazardEventKind::Discovered;
        let mut photos: Vec<String> = e.photos.iter().map(|p| p.sha256.clone()).collect();
        let mut note = e.note.clone();
        if discovery {
            // The finding's own evidence: the "before" photos and the finder's note.
            photos.extend(h.photos.iter().map(|p| p.sha256.clone()));
            note = note.or_else(|| h.note.clone());
        }
        events.push(EventRow {
            seq: i + 1,
            at_ms: e.at_ms,
            kind: e.kind,
            level: e.level,
            by: joins.user_name(&e.by)?,
            role: e.role,
            device: e.device.clone(),
            note,
            photos,
            departments: e.departments.iter().map(|d| org.department(d)).collect(),
            deadline_ms: e.deadline_ms,
            flags: state
                .flags
                .iter()
                .filter(|f| f.event == *id)
                .map(|f| f.reason)
                .collect(),
        });
    }
    let flagged = events.iter().filter(|e| !e.flags.is_empty()).count();
    let name_of = |map: &HashMap<String, Localized>, id: &str| {
        map.get(id).cloned().unwrap_or_else(|| same(id))
    };
    Ok(Some(CaseRow {
        id: h.id.clone(),
        discovered_ms: state.discovered_ms,
        community: name_of(&org.communities, &place.community),
        grid: name_of(&org.grids, &place.grid),
        premises_name: premises
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        address: premises
            .as_ref()
            .map(|p| p.address.clone())
            .unwrap_or_default(),
        category,
        title: h.title.clone(),
        severity: h.severity,
        status: state.status,
        mode: state.mode,
        deadline_ms: state.deadline_ms,
        overdue: state.overdue(now_ms),
        departments: state
            .departments
            .iter()
            .map(|d| org.department(d))
            .collect(),
        listing: state
            .listing
            .as_ref()
            .map(|l| (l.level, l.delisted_ms.is_some())),
        listing_target_ms: state.listing.as_ref().map(|l| l.target_ms),
        recurrence: h.recurrence,
        recurrence_of: h.recurrence_of.clone(),
        closed_ms: state.closed_ms,
        flagged,
        events,
    }))
}

/// One cell of a table, before it is written as CSV text or an xlsx cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text (always written as text).
    Text(String),
    /// A time (ms), shown in Shanghai time to the minute.
    Time(i64),
    /// A whole number.
    Int(i64),
    /// Nothing.
    Empty,
}

fn text(s: impl Into<String>) -> Cell {
    let s = s.into();
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s)
    }
}

fn time(ms: Option<i64>) -> Cell {
    ms.map_or(Cell::Empty, Cell::Time)
}

fn joined<'a>(items: impl IntoIterator<Item = &'a str>) -> Cell {
    text(items.into_iter().collect::<Vec<_>>().join(";"))
}

/// The header row of a table.
pub fn headers(table: Table, lang: Lang) -> Vec<&'static str> {
    let cols: &[(&str, &str)] = match table {
        Table::Cases => &[
            ("隐患编号", "Hazard ID"),
            ("发现时间", "Discovered"),
            ("社区", "Community"),
            ("网格", "Grid"),
            ("场所名称", "Premises"),
            ("地址", "Address"),
            ("场所类别", "Category"),
            ("隐患描述", "Description"),
            ("严重程度", "Severity"),
            ("状态", "Status"),
            ("整改方式", "Rectification"),
            ("整改期限", "Deadline"),
            ("是否逾期", "Overdue"),
            ("派遣部门", "Departments"),
            ("挂牌督办", "Listed supervision"),
            ("督办目标日期", "Supervision target"),
            ("反复回潮(次)", "Recurrences"),
            ("关联前案", "Earlier case"),
            ("结案时间", "Closed"),
            ("异常事件数", "Flagged events"),
        ],
        Table::Events => &[
            ("隐患编号", "Hazard ID"),
            ("序号", "No."),
            ("时间", "Time"),
            ("操作", "Action"),
            ("操作人", "By"),
            ("角色", "Role"),
            ("设备", "Device"),
            ("说明", "Note"),
            ("证据照片(SHA-256)", "Evidence photos (SHA-256)"),
            ("派遣部门", "Departments"),
            ("期限", "Deadline"),
            ("标记", "Flag"),
        ],
    };
    cols.iter().map(|(zh, en)| lang.pick(zh, en)).collect()
}

/// Column widths (characters) of a table in the workbook.
fn widths(table: Table) -> &'static [u16] {
    match table {
        Table::Cases => &[
            26, 17, 14, 16, 24, 30, 18, 40, 16, 10, 14, 17, 9, 30, 18, 17, 12, 26, 17, 12,
        ],
        Table::Events => &[26, 6, 17, 18, 12, 20, 34, 40, 40, 30, 17, 40],
    }
}

/// The name people read for a premises category.
pub fn category_label(c: Category) -> Localized {
    let (zh, en) = match c {
        Category::Residential => ("住宅小区", "residential compound"),
        Category::StreetShop => ("沿街商铺及小型场所", "street shop or small premises"),
        Category::LargeSite => ("大型单位及重要场所", "large unit or important site"),
    };
    Localized {
        zh: zh.into(),
        en: en.into(),
    }
}

/// The name people read for a role.
pub fn role_label(r: Role) -> Localized {
    let (zh, en) = match r {
        Role::GridPatroller => ("网格员", "grid patroller"),
        Role::ResidentialWorker => ("居委消防工作人员", "residential fire-safety worker"),
        Role::StationCrew => ("微型消防站队员", "micro fire-station crew"),
        Role::StreetOffice => ("街道消防安全办公室", "street fire-safety office"),
        Role::Department => ("成员单位", "member department"),
        Role::Admin => ("系统管理员", "administrator"),
    };
    Localized {
        zh: zh.into(),
        en: en.into(),
    }
}

/// The cells of a case row.
pub fn case_cells(c: &CaseRow, lang: Lang) -> Vec<Cell> {
    let listing = c.listing.map(|(level, delisted)| {
        let label = level.label();
        let label = lang.of(&label);
        match (delisted, lang) {
            (false, _) => label.to_string(),
            (true, Lang::Zh) => format!("{label}（已摘牌）"),
            (true, Lang::En) => format!("{label} (delisted)"),
        }
    });
    vec![
        text(c.id.clone()),
        Cell::Time(c.discovered_ms),
        text(lang.of(&c.community)),
        text(lang.of(&c.grid)),
        text(c.premises_name.clone()),
        text(c.address.clone()),
        text(
            c.category
                .map(|k| lang.of(&category_label(k)).to_string())
                .unwrap_or_default(),
        ),
        text(lang.of(&c.title)),
        text(lang.of(&c.severity.label())),
        text(lang.of(&c.status.label())),
        text(
            c.mode
                .map(|m| lang.of(&m.label()).to_string())
                .unwrap_or_default(),
        ),
        time(c.deadline_ms),
        text(if c.overdue {
            lang.pick("是", "yes")
        } else {
            lang.pick("否", "no")
        }),
        joined(c.departments.iter().map(|d| lang.of(d))),
        text(listing.unwrap_or_default()),
        time(c.listing_target_ms),
        Cell::Int(i64::from(c.recurrence)),
        text(c.recurrence_of.clone().unwrap_or_default()),
        time(c.closed_ms),
        Cell::Int(i64::try_from(c.flagged).unwrap_or(i64::MAX)),
    ]
}

/// The cells of an event row of case `c`.
pub fn event_cells(c: &CaseRow, e: &EventRow, lang: Lang) -> Vec<Cell> {
    let action = lang.of(&e.kind.label()).to_string();
    let action = match e.level.filter(|_| e.kind == HazardEventKind::Listed) {
        Some(level) => match lang {
            Lang::Zh => format!("{action}（{}）", level.label().zh),
            Lang::En => format!("{action} ({})", level.label().en),
        },
        None => action,
    };
    vec![
        text(c.id.clone()),
        Cell::Int(i64::try_from(e.seq).unwrap_or(i64::MAX)),
        Cell::Time(e.at_ms),
        text(action),
        text(e.by.clone()),
        text(
            e.role
                .map(|r| lang.of(&role_label(r)).to_string())
                .unwrap_or_default(),
        ),
        text(e.device.clone()),
        text(e.note.clone().unwrap_or_default()),
        joined(e.photos.iter().map(String::as_str)),
        joined(e.departments.iter().map(|d| lang.of(d))),
        time(e.deadline_ms),
        text(
            e.flags
                .iter()
                .map(|f| lang.of(&f.text()).to_string())
                .collect::<Vec<_>>()
                .join(";"),
        ),
    ]
}

/// Calls `f` with every row of a table, as cells, in order.
pub fn for_each_row(
    ledger: &Ledger,
    table: Table,
    lang: Lang,
    mut f: impl FnMut(Vec<Cell>) -> Result<()>,
) -> Result<()> {
    for c in &ledger.cases {
        match table {
            Table::Cases => f(case_cells(c, lang))?,
            Table::Events => {
                for e in &c.events {
                    f(event_cells(c, e, lang))?;
                }
            }
        }
    }
    Ok(())
}

/// A local (Shanghai) date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Local {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

/// A time in ms as Shanghai local time, to the minute.
fn local(ms: i64) -> Local {
    let t = ms.saturating_add(SHANGHAI_OFFSET_MS);
    let (year, month, day) = civil_from_days(t.div_euclid(DAY_MS));
    let minutes = t.rem_euclid(DAY_MS) / MINUTE_MS;
    Local {
        year,
        month,
        day,
        hour: u8::try_from(minutes / 60).unwrap_or(0),
        minute: u8::try_from(minutes % 60).unwrap_or(0),
    }
}

/// `YYYY-MM-DD HH:MM` in Shanghai time.
pub fn local_text(ms: i64) -> String {
    let l = local(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        l.year, l.month, l.day, l.hour, l.minute
    )
}

/// Midnight (Shanghai) starting the day `YYYY-MM-DD`, in ms.
fn day_start(field: &'static str, text: &str) -> Result<i64> {
    let bad = || LedgerError::invalid(field, "expected a date YYYY-MM-DD between 1970 and 2100");
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64> {
        let s = &text[r];
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    // Rejects 2026-02-30 and the like: the day must map back to itself.
    if civil_from_days(days) != (y, m as u8, d as u8) {
        return Err(bad());
    }
    Ok(days * DAY_MS - SHANGHAI_OFFSET_MS)
}

/// The file name of an export made at `now_ms`, e.g. `firegrid-ledger-20261130.xlsx` or
/// `firegrid-ledger-events-20261130.csv`.
pub fn file_name(format: Format, table: Table, now_ms: i64) -> String {
    let l = local(now_ms);
    let date = format!("{:04}{:02}{:02}", l.year, l.month, l.day);
    match (format, table) {
        (Format::Xlsx, _) => format!("firegrid-ledger-{date}.xlsx"),
        (Format::Csv, Table::Cases) => format!("firegrid-ledger-cases-{date}.csv"),
        (Format::Csv, Table::Events) => format!("firegrid-ledger-events-{date}.csv"),
    }
}

/// A text cell as CSV text: prefixed with `'` when a spreadsheet would read it as a formula.
fn defuse(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Writes one table as CSV: a UTF-8 BOM, the header row, then the rows (RFC 4180, CRLF).
pub fn write_csv(ledger: &Ledger, table: Table, lang: Lang, out: impl Write) -> Result<()> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    w.write_record(headers(table, lang))?;
    for_each_row(ledger, table, lang, |cells| {
        let fields: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Cell::Text(s) => defuse(s).into_owned(),
                Cell::Time(ms) => local_text(*ms),
                Cell::Int(n) => n.to_string(),
                Cell::Empty => String::new(),
            })
            .collect();
        w.write_record(&fields)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(())
}

/// The workbook: both tables, each on its own worksheet.
pub fn write_xlsx(ledger: &Ledger, lang: Lang) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format as XFormat, FormatAlign, Workbook};
    let mut book = Workbook::new();
    let header = XFormat::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_background_color(0x00DD_EBF7);
    let when = XFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    for (table, name) in [
        (Table::Cases, lang.pick("隐患台账", "Cases")),
        (Table::Events, lang.pick("处置记录", "History")),
    ] {
        let rows = match table {
            Table::Cases => ledger.cases.len(),
            Table::Events => ledger.event_count(),
        };
        let last_row =
            u32::try_from(rows)
                .ok()
                .filter(|n| *n < 1_048_576)
                .ok_or(LedgerError::TooLarge {
                    what: "rows for one worksheet",
                    limit: 1_048_575,
                })?;
        let heads = headers(table, lang);
        let last_col = u16::try_from(heads.len() - 1).unwrap_or(0);
        // Low-memory mode: each finished row goes to a temporary file, strings are shared.
        let sheet = book.add_worksheet_with_low_memory()?;
        sheet.set_name(name)?;
        for (col, w) in widths(table).iter().enumerate() {
            sheet.set_column_width(u16::try_from(col).unwrap_or(0), *w)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, last_row, last_col)?;
        for (col, h) in heads.iter().enumerate() {
            sheet.write_string_with_format(0, u16::try_from(col).unwrap_or(0), *h, &header)?;
        }
        let mut row = 1u32;
        for_each_row(ledger, table, lang, |cells| {
            for (col, cell) in cells.into_iter().enumerate() {
                let col = u16::try_from(col).unwrap_or(0);
                match cell {
                    Cell::Text(s) => {
                        let s = if s.chars().count() > MAX_CELL_CHARS {
                            s.chars().take(MAX_CELL_CHARS).collect()
                        } else {
                            s
                        };
                        sheet.write_string(row, col, s)?;
                    }
                    Cell::Time(ms) => match excel_time(ms) {
                        Some(t) => {
                            sheet.write_datetime_with_format(row, col, t, &when)?;
                        }
                        None => {
                            sheet.write_string(row, col, local_text(ms))?;
                        }
                    },
                    // Counts and sequence numbers: far below 2^53, exact as f64.
                    Cell::Int(n) => {
                        sheet.write_number(row, col, n as f64)?;
                    }
                    Cell::Empty => {}
                }
            }
            row += 1;
            Ok(())
        })?;
    }
    Ok(book.save_to_buffer()?)
}

/// A time as an Excel date cell (Shanghai time, to the minute), if Excel can show the year.
fn excel_time(ms: i64) -> Option<rust_xlsxwriter::ExcelDateTime> {
    let l = local(ms);
    let year = u16::try_from(l.year)
        .ok()
        .filter(|y| (1900..=9999).contains(y))?;
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, l.month, l.day)
        .and_then(|d| d.and_hms(u16::from(l.hour), l.minute, 0))
        .ok()
}

/// A finished export.
#[derive(Debug, Clone)]
pub struct Export {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its suggested name.
    pub file_name: String,
    /// Its media type.
    pub content_type: &'static str,
    /// Cases in it.
    pub cases: usize,
    /// History rows in it.
    pub events: usize,
    /// Hazard documents left out because they do not read as hazards.
    pub skipped: usize,
}

/// Parses `query`, collects the ledger `viewer` may see and writes it in `format` (for CSV,
/// the table the query names). The caller checks that the viewer may export at all.
pub fn export(
    storage: &dyn SyncStorage,
    viewer: &User,
    query: &LedgerQuery,
    format: Format,
    now_ms: i64,
) -> Result<Export> {
    let filter = query.filter()?;
    let lang = query.lang()?;
    let table = query.table()?;
    let ledger = collect(storage, viewer, &filter, now_ms)?;
    let bytes = match format {
        Format::Xlsx => write_xlsx(&ledger, lang)?,
        Format::Csv => {
            let mut buf = Vec::new();
            write_csv(&ledger, table, lang, &mut buf)?;
            buf
        }
    };
    Ok(Export {
        bytes,
        file_name: file_name(format, table, now_ms),
        content_type: format.content_type(),
        cases: ledger.cases.len(),
        events: ledger.event_count(),
        skipped: ledger.skipped.len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::sync::memory::MemoryStorage;
    use firegrid_core::access::Scope;
    use firegrid_core::hazard::{HazardEvent, HazardOrigin};
    use firegrid_core::premises::PremisesKind;

    #[test]
    fn times_are_shanghai_local_and_dates_parse_strictly() {
        assert_eq!(local_text(0), "1970-01-01 08:00");
        // 2026-11-30 23:59 in Shanghai is 15:59 UTC.
        let ms = day_start("from", "2026-11-30").unwrap() + 23 * 3_600_000 + 59 * 60_000 + 59_999;
        assert_eq!(local_text(ms), "2026-11-30 23:59");
        assert_eq!(local_text(ms + 1), "2026-12-01 00:00");
        assert_eq!(
            day_start("from", "1970-01-01").unwrap(),
            -SHANGHAI_OFFSET_MS
        );
        assert_eq!(
            local_text(day_start("to", "2024-02-29").unwrap()),
            "2024-02-29 00:00"
        );
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-1-01",
            "20261130",
            "",
            "1969-12-31",
            "2101-01-01",
            "2026-11-3x",
            "+026-11-30",
        ] {
            assert!(day_start("from", bad).is_err(), "{bad}");
        }
        for days in [-1_000_000i64, -1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(
            file_name(Format::Xlsx, Table::Events, ms),
            "firegrid-ledger-20261130.xlsx"
        );
        assert_eq!(
            file_name(Format::Csv, Table::Events, ms + 1),
            "firegrid-ledger-events-20261201.csv"
        );
        assert!(excel_time(ms).is_some());
        assert!(excel_time(i64::MIN).is_none());
        assert!(!local_text(i64::MAX).is_empty());
    }

    #[test]
    fn queries_parse_into_filters_and_refuse_bad_values() {
        let q = LedgerQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-30".into()),
            community: Some("com.01".into()),
            category: Some("street_shop".into()),
            status: Some("dispatched".into()),
            supervision: Some("district".into()),
            lang: Some("en".into()),
            table: Some("events".into()),
        };
        let f = q.filter().unwrap();
        assert_eq!(f.to_ms.unwrap() - f.from_ms.unwrap(), 30 * DAY_MS);
        assert_eq!(f.category, Some(Category::StreetShop));
        assert_eq!(f.status, Some(HazardStatus::Dispatched));
        assert_eq!(f.supervision, Some(SupervisionLevel::District));
        assert_eq!(
            (q.lang().unwrap(), q.table().unwrap()),
            (Lang::En, Table::Events)
        );
        let empty = LedgerQuery {
            community: Some(String::new()),
            ..LedgerQuery::default()
        };
        assert_eq!(empty.filter().unwrap(), LedgerFilter::default());
        assert_eq!(
            (empty.lang().unwrap(), empty.table().unwrap()),
            (Lang::Zh, Table::Cases)
        );
        let bad = |q: LedgerQuery, field: &str| match q
            .filter()
            .and(q.lang())
            .and(q.table().map(|_| Lang::Zh))
        {
            Err(LedgerError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        };
        bad(
            LedgerQuery {
                status: Some("open".into()),
                ..Default::default()
            },
            "status",
        );
        bad(
            LedgerQuery {
                category: Some("shop".into()),
                ..Default::default()
            },
            "category",
        );
        bad(
            LedgerQuery {
                supervision: Some("city".into()),
                ..Default::default()
            },
            "supervision",
        );
        bad(
            LedgerQuery {
                community: Some("com 01".into()),
                ..Default::default()
            },
            "community",
        );
        bad(
            LedgerQuery {
                from: Some("2026-12-01".into()),
                to: Some("2026-11-30".into()),
                ..Default::default()
            },
            "to",
        );
        bad(
            LedgerQuery {
                lang: Some("fr".into()),
                ..Default::default()
            },
            "lang",
        );
        bad(
            LedgerQuery {
                table: Some("all".into()),
                ..Default::default()
            },
            "table",
        );
        assert!(serde_json::from_str::<LedgerQuery>(r#"{"colour":"red"}"#).is_err());
    }

    fn seed<T: autosurgeon::Reconcile>(s: &MemoryStorage, id: &str, kind: RecordKind, v: &T) {
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, v).unwrap();
        s.seed_document(id, kind, &doc.save()).unwrap();
    }

    fn event(
        id: &str,
        kind: HazardEventKind,
        by: &str,
        role: Role,
        scope: Scope,
        at_ms: i64,
        after: &[&str],
    ) -> HazardEvent {
        HazardEvent {
            id: id.into(),
            kind,
            by: by.into(),
            device: "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b".into(),
            at_ms,
            note: None,
            after: after.iter().map(|s| s.to_string()).collect(),
            role: Some(role),
            scope: Some(scope),
            photos: Vec::new(),
            departments: Vec::new(),
            deadline_ms: None,
            level: None,
        }
    }

    #[test]
    fn a_small_ledger_is_collected_filtered_and_written() {
        let s = MemoryStorage::new();
        let loc = |zh: &str, en: &str| Localized {
            zh: zh.into(),
            en: en.into(),
        };
        seed(
            &s,
            "com.01",
            RecordKind::Community,
            &Community {
                id: "com.01".into(),
                name: loc("真光居民区", "Zhenguang"),
                address: "x".into(),
            },
        );
        seed(
            &s,
            "grid.01.1",
            RecordKind::Grid,
            &Grid {
                id: "grid.01.1".into(),
                community: "com.01".into(),
                name: loc("真光第1网格", "Grid 1"),
            },
        );
        seed(
            &s,
            "dept.market",
            RecordKind::Department,
            &Department {
                id: "dept.market".into(),
                kind: firegrid_core::district::DepartmentKind::Market,
                name: loc("市场监管所", "Market office"),
            },
        );
        let premises = Premises {
            id: "prem.1".into(),
            kind: PremisesKind::StreetShop,
            subtypes: vec![],
            name: "=HYPERLINK(\"x\")小店".into(),
            address: "真光路1号, \"A\"座".into(),
            community: "com.01".into(),
            grid: "grid.01.1".into(),
            location: None,
            contact: None,
            floors: None,
            area_m2: None,
            households: None,
        };
        seed(&s, "prem.1", RecordKind::Premises, &premises);
        let office = User {
            id: "u.so".into(),
            name: "办公室甲".into(),
            role: Role::StreetOffice,
            scope: Scope::new(ScopeKind::Street, "street.x"),
        };
        seed(&s, "u.so", RecordKind::User, &office);
        let grid = Scope::new(ScopeKind::Grid, "grid.01.1");
        let t0 = day_start("from", "2025-03-10").unwrap() + 9 * 3_600_000;
        let mut filed = event(
            "ev.2",
            HazardEventKind::Filed,
            "u.so",
            Role::StreetOffice,
            office.scope.clone(),
            t0 + 60_000,
            &["ev.1"],
        );
        filed.deadline_ms = Some(t0 + 7 * DAY_MS);
        let mut dispatched = event(
            "ev.3",
            HazardEventKind::Dispatched,
            "u.so",
            Role::StreetOffice,
            office.scope.clone(),
            t0 + 120_000,
            &["ev.2"],
        );
        dispatched.departments = vec!["dept.market".into()];
        // A patroller may not file: flagged, kept in the history.
        let forged = event(
            "ev.4",
            HazardEventKind::Filed,
            "u.gp",
            Role::GridPatroller,
            grid.clone(),
            t0 + 180_000,
            &["ev.3"],
        );
        let hazard = Hazard {
            schema: 1,
            id: "hz.1".into(),
            premises: "prem.1".into(),
            origin: HazardOrigin::default(),
            severity: Severity::Serious,
            title: loc("-1 疏散通道堵塞", "-1 blocked exit"),
            note: Some("门口堆放纸箱".into()),
            photos: vec![firegrid_core::vocab::PhotoRef {
                sha256: "ab".repeat(32),
                captured_at_ms: None,
                location: None,
            }],
            location: None,
            reported_by: "u.gp".into(),
            events: vec![
                forged,
                dispatched,
                filed,
                event(
                    "ev.1",
                    HazardEventKind::Discovered,
                    "u.gp",
                    Role::GridPatroller,
                    grid,
                    t0,
                    &[],
                ),
            ],
            elements: vec![],
            recurrence_of: None,
            recurrence: 0,
        };
        seed(&s, "hz.1", RecordKind::Hazard, &hazard);

        let now = t0 + 30 * DAY_MS;
        let all = collect(&s, &office, &LedgerFilter::default(), now).unwrap();
        assert_eq!(all.cases.len(), 1);
        let c = &all.cases[0];
        assert_eq!(
            (c.status, c.overdue, c.flagged),
            (HazardStatus::Dispatched, true, 1)
        );
        assert_eq!(
            c.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [
                HazardEventKind::Discovered,
                HazardEventKind::Filed,
                HazardEventKind::Dispatched,
                HazardEventKind::Filed
            ]
        );
        assert_eq!(c.events[3].flags, [FlagReason::RoleNotAllowed]);
        assert_eq!(c.events[3].by, "u.gp", "an unknown user shows as their id");
        assert_eq!(c.events[1].by, "办公室甲");
        assert_eq!(c.events[0].photos, ["ab".repeat(32)]);

        let cells = case_cells(c, Lang::Zh);
        assert_eq!(cells[2], Cell::Text("真光居民区".into()));
        assert_eq!(cells[9], Cell::Text("派遣".into()));
        assert_eq!(cells[12], Cell::Text("是".into()));
        assert_eq!(cells[13], Cell::Text("市场监管所".into()));
        assert_eq!(cells[14], Cell::Empty);

        let mut csv_bytes = Vec::new();
        write_csv(&all, Table::Cases, Lang::Zh, &mut csv_bytes).unwrap();
        let text = String::from_utf8(csv_bytes).unwrap();
        assert!(text.starts_with("\u{feff}隐患编号,发现时间,社区,"));
        assert!(
            text.contains(",\"'=HYPERLINK(\"\"x\"\")小店\",\"真光路1号, \"\"A\"\"座\","),
            "{text}"
        );
        assert!(text.contains(",'-1 疏散通道堵塞,"), "{text}");
        assert!(text.contains(",2025-03-10 09:00,"), "{text}");
        assert!(text.ends_with("\r\n"));
        let mut ev = Vec::new();
        write_csv(&all, Table::Events, Lang::En, &mut ev).unwrap();
        let ev = String::from_utf8(ev).unwrap();
        assert_eq!(ev.lines().count(), 5);
        assert!(ev.contains("the role may not do this"), "{ev}");
        let xlsx = write_xlsx(&all, Lang::Zh).unwrap();
        assert_eq!(&xlsx[..2], b"PK");

        let f = |q: LedgerQuery| {
            collect(&s, &office, &q.filter().unwrap(), now)
                .unwrap()
                .cases
                .len()
        };
        assert_eq!(
            f(LedgerQuery {
                from: Some("2025-03-10".into()),
                to: Some("2025-03-10".into()),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            f(LedgerQuery {
                from: Some("2025-03-11".into()),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            f(LedgerQuery {
                to: Some("2025-03-09".into()),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            f(LedgerQuery {
                status: Some("filed".into()),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            f(LedgerQuery {
                category: Some("street_shop".into()),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            f(LedgerQuery {
                category: Some("residential".into()),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            f(LedgerQuery {
                supervision: Some("street".into()),
                ..Default::default()
            }),
            0
        );
        assert!(matches!(
            collect(
                &s,
                &office,
                &LedgerFilter {
                    community: Some("com.99".into()),
                    ..Default::default()
                },
                now
            ),
            Err(LedgerError::Invalid {
                field: "community",
                ..
            })
        ));
        // Past the bounds: refused, not cut short.
        let bounded = |b| collect_within(&s, &office, &LedgerFilter::default(), now, b);
        assert!(bounded((1, 4)).is_ok());
        assert!(matches!(
            bounded((0, 4)),
            Err(LedgerError::TooLarge { what: "cases", .. })
        ));
        assert!(matches!(
            bounded((1, 3)),
            Err(LedgerError::TooLarge { what: "events", .. })
        ));
        // Another grid's patroller sees nothing of it.
        let other = User {
            id: "u.x".into(),
            name: "x".into(),
            role: Role::GridPatroller,
            scope: Scope::new(ScopeKind::Grid, "grid.02.1"),
        };
        assert!(
            collect(&s, &other, &LedgerFilter::default(), now)
                .unwrap()
                .cases
                .is_empty()
        );
    }
}
