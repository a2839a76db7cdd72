//! Reading records out of their automerge documents: a direct walk of each object with
//! `map_range` / `list_range` into the domain types, giving exactly what `autosurgeon::hydrate`
//! gives (the same value, or a failure where it fails), about four times faster.
//!
//! Why not autosurgeon: its derived `Hydrate` looks every field up with `ReadDoc::get`, one
//! search of the object per field and per list element; this reader visits each object once.
//! Writing stays with autosurgeon (`Reconcile`), so the document layout has one definition:
//! the derives on the domain types. The field lists below mirror them (a struct literal names
//! every field, so a new field does not compile until it is listed here) and
//! `core/tests/hydrate.rs` proves the equality over every record kind: the fixtures, random
//! records, merges of concurrent edits and malformed documents.
//!
//! Semantics copied from autosurgeon 0.14 on automerge 0.12: a struct reads a map (not a
//! table: automerge does not read those as maps any more) and ignores extra keys; a field that is absent fails unless the type declares a default for it
//! (`#[autosurgeon(missing = …)]`, here `= default`); `Option` is `None` only for a null;
//! `Vec` reads a list; `String` and the closed sets a string scalar; `u32` an unsigned
//! integer that fits, `i64` a signed integer, `f64` a float, `bool` a boolean. Anything else
//! (counters, timestamps, bytes, text objects, a scalar where an object belongs) fails.
//!
//! It never uses `ReadDoc::hydrate` (a crafted list with mark operations makes that panic)
//! and never panics on any document: every mismatch is a [`Problem`]. One deliberate
//! difference: a list holding mark operations (only a crafted change can put them there) is
//! refused, where autosurgeon reads each mark operation as an element `"markBegin"` /
//! `"markEnd"`.

use std::collections::BTreeMap;
use std::fmt;

use automerge::iter::{ListRangeItem, MapRangeItem};
use automerge::{ObjId, ObjType, ReadDoc, ScalarValueRef, ValueRef};

use crate::access::{Scope, User};
use crate::checklist::{Checklist, ChecklistGroup, ChecklistItem, Coverage};
use crate::district::{
    Community, Department, EmergencyContact, Grid, KeyResident, MicroStation, Street,
};
use crate::hazard::{Hazard, HazardEvent, HazardOrigin, HazardRules};
use crate::inspection::{Answer, Inspection};
use crate::premises::{Contact, Premises};
use crate::standard::{ComprehensiveRule, Element, ElementGroup, Exemption, Standard};
use crate::store::RecordKind;
use crate::vocab::{GeoPoint, Localized, PhotoRef};
use crate::{Error, Result};

/// A value found in a document: a scalar, or an object (its type and id).
#[derive(Debug, Clone)]
pub enum Found<'a> {
    /// A scalar (strings borrowed from the document).
    Scalar(ScalarValueRef<'a>),
    /// A map, list, text or table.
    Object(ObjType, ObjId),
}

impl<'a> Found<'a> {
    fn of_map(item: MapRangeItem<'a>) -> Found<'a> {
        match item.value {
            ValueRef::Object(t) => Found::Object(t, item.id()),
            ValueRef::Scalar(s) => Found::Scalar(s),
        }
    }

    fn of_list(item: ListRangeItem<'a>) -> Found<'a> {
        match item.value {
            ValueRef::Object(t) => Found::Object(t, item.id()),
            ValueRef::Scalar(s) => Found::Scalar(s),
        }
    }

    /// What it is, for a problem's text.
    fn describe(&self) -> &'static str {
        match self {
            Found::Object(ObjType::Map, _) => "a map",
            Found::Object(ObjType::Table, _) => "a table",
            Found::Object(ObjType::List, _) => "a list",
            Found::Object(ObjType::Text, _) => "a text object",
            Found::Scalar(s) => match s {
                ScalarValueRef::Bytes(_) => "bytes",
                ScalarValueRef::Str(_) => "a string",
                ScalarValueRef::Int(_) => "a signed integer",
                ScalarValueRef::Uint(_) => "an unsigned integer",
                ScalarValueRef::F64(_) => "a float",
                ScalarValueRef::Counter(_) => "a counter",
                ScalarValueRef::Timestamp(_) => "a timestamp",
                ScalarValueRef::Boolean(_) => "a boolean",
                ScalarValueRef::Unknown { .. } => "an unknown scalar",
                ScalarValueRef::Null => "null",
            },
        }
    }
}

/// Why a document is not a record of its kind: what was wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Keys and indices from the root, innermost first (built while unwinding).
    path: Vec<String>,
    what: String,
}

impl Problem {
    fn new(what: impl Into<String>) -> Problem {
        Problem {
            path: Vec::new(),
            what: what.into(),
        }
    }

    fn expected(what: &str, found: &Found<'_>) -> Problem {
        Problem::new(format!("expected {what}, found {}", found.describe()))
    }

    /// The same problem, one level further out.
    fn at(mut self, segment: impl fmt::Display) -> Problem {
        self.path.push(segment.to_string());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.what);
        }
        for (i, seg) in self.path.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(seg)?;
        }
        write!(f, ": {}", self.what)
    }
}

impl std::error::Error for Problem {}

/// A type read from a document value the way its autosurgeon `Hydrate` reads it.
pub trait FromDoc: Sized {
    /// Reads a present value.
    fn from_found<D: ReadDoc>(doc: &D, found: Found<'_>) -> std::result::Result<Self, Problem>;
}

/// A record type at the root of its document.
pub fn hydrate<T: FromDoc, D: ReadDoc>(doc: &D) -> std::result::Result<T, Problem> {
    T::from_found(doc, Found::Object(ObjType::Map, automerge::ROOT))
}

/// [`hydrate`] for record `id`: a problem is [`Error::CorruptRecord`].
pub fn hydrate_record<T: FromDoc, D: ReadDoc>(id: &str, doc: &D) -> Result<T> {
    hydrate(doc).map_err(|p| Error::corrupt(id, p))
}

/// The value at `key` of map `obj`, read like autosurgeon's `hydrate_prop` (absent fails).
pub fn hydrate_prop<T: FromDoc, D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
) -> std::result::Result<T, Problem> {
    let found = match doc.get(obj, key) {
        Ok(Some((automerge::Value::Object(t), id))) => Found::Object(t, id),
        Ok(Some((automerge::Value::Scalar(s), _))) => {
            // `get` hands out an owned scalar; the borrowed form is what readers take.
            return T::from_found(doc, Found::Scalar(owned_ref(&s))).map_err(|p| p.at(key));
        }
        Ok(None) => return Err(Problem::new("missing").at(key)),
        Err(e) => return Err(Problem::new(e.to_string()).at(key)),
    };
    T::from_found(doc, found).map_err(|p| p.at(key))
}

fn owned_ref(s: &automerge::ScalarValue) -> ScalarValueRef<'_> {
    use automerge::ScalarValue as S;
    match s {
        S::Bytes(b) => ScalarValueRef::Bytes(b.as_slice().into()),
        S::Str(t) => ScalarValueRef::Str(t.as_str().into()),
        S::Int(i) => ScalarValueRef::Int(*i),
        S::Uint(u) => ScalarValueRef::Uint(*u),
        S::F64(f) => ScalarValueRef::F64(*f),
        S::Counter(_) => ScalarValueRef::Counter(0),
        S::Timestamp(t) => ScalarValueRef::Timestamp(*t),
        S::Boolean(b) => ScalarValueRef::Boolean(*b),
        S::Unknown { type_code, bytes } => ScalarValueRef::Unknown {
            type_code: *type_code,
            bytes: bytes.as_slice().into(),
        },
        S::Null => ScalarValueRef::Null,
    }
}

/// A string scalar turned into `T` by `parse` (`None`: not one of `T`'s values).
#[doc(hidden)]
pub fn from_string<T>(
    found: Found<'_>,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> std::result::Result<T, Problem> {
    match &found {
        Found::Scalar(ScalarValueRef::Str(s)) => {
            parse(s).ok_or_else(|| Problem::new(format!("expected {what}, found {s:?}")))
        }
        other => Err(Problem::expected(what, other)),
    }
}

impl FromDoc for String {
    fn from_found<D: ReadDoc>(_: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::Str(s)) => Ok(s.into_owned()),
            other => Err(Problem::expected("a string", &other)),
        }
    }
}

impl FromDoc for u32 {
    fn from_found<D: ReadDoc>(_: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::Uint(u)) => {
                u32::try_from(u).map_err(|_| Problem::new(format!("{u} does not fit a u32")))
            }
            other => Err(Problem::expected("an unsigned integer", &other)),
        }
    }
}

impl FromDoc for i64 {
    fn from_found<D: ReadDoc>(_: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::Int(i)) => Ok(i),
            other => Err(Problem::expected("a signed integer", &other)),
        }
    }
}

impl FromDoc for f64 {
    fn from_found<D: ReadDoc>(_: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::F64(f)) => Ok(f),
            other => Err(Problem::expected("a float", &other)),
        }
    }
}

impl FromDoc for bool {
    fn from_found<D: ReadDoc>(_: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::Boolean(b)) => Ok(b),
            other => Err(Problem::expected("a boolean", &other)),
        }
    }
}

impl<T: FromDoc> FromDoc for Option<T> {
    fn from_found<D: ReadDoc>(doc: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Scalar(ScalarValueRef::Null) => Ok(None),
            other => T::from_found(doc, other).map(Some),
        }
    }
}

impl<T: FromDoc> FromDoc for Vec<T> {
    fn from_found<D: ReadDoc>(doc: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Object(ObjType::List, obj) => {
                // Marks belong to text; a list holds them only when a change was crafted to
                // put them there. Their operations would read as elements (autosurgeon reads
                // them as the strings "markBegin" / "markEnd", `list_range` as the mark's
                // value and a null), so such a list is refused: no record holds one. `length`
                // counts mark operations as `list_range` lists them, so a list of length 0
                // holds none, and the costly look for marks is left out (most lists of a record
                // are empty).
                if doc.length(&obj) == 0 {
                    return Ok(Vec::new());
                }
                if doc.marks(&obj).map_or(true, |m| !m.is_empty()) {
                    return Err(Problem::new("a list with mark operations"));
                }
                doc.list_range(&obj, ..)
                    .map(|item| {
                        let index = item.index;
                        T::from_found(doc, Found::of_list(item)).map_err(|p| p.at(index))
                    })
                    .collect()
            }
            other => Err(Problem::expected("a list", &other)),
        }
    }
}

impl<V: FromDoc> FromDoc for BTreeMap<String, V> {
    fn from_found<D: ReadDoc>(doc: &D, found: Found<'_>) -> std::result::Result<Self, Problem> {
        match found {
            Found::Object(ObjType::Map, obj) => doc
                .map_range(&obj, ..)
                .map(|item| {
                    let key = item.key.clone().into_owned();
                    match V::from_found(doc, Found::of_map(item)) {
                        Ok(v) => Ok((key, v)),
                        Err(p) => Err(p.at(key)),
                    }
                })
                .collect(),
            other => Err(Problem::expected("a map", &other)),
        }
    }
}

/// `FromDoc` for a struct stored as a map with one key per field: the map is walked once,
/// extra keys are ignored, and an absent field fails unless it is marked `= default`
/// (autosurgeon's `missing = "…::default"`).
macro_rules! from_map {
    ($($ty:ident { $($field:ident $(= $default:ident)?),+ $(,)? })+) => {$(
        impl FromDoc for $ty {
            fn from_found<D: ReadDoc>(
                doc: &D,
                found: Found<'_>,
            ) -> std::result::Result<Self, Problem> {
                let obj = match found {
                    Found::Object(ObjType::Map, obj) => obj,
                    other => return Err(Problem::expected("a map", &other)),
                };
                $(let mut $field = None;)+
                for item in doc.map_range(&obj, ..) {
                    match item.key.as_ref() {
                        $(stringify!($field) => {
                            $field = Some(
                                FromDoc::from_found(doc, Found::of_map(item))
                                    .map_err(|p| p.at(stringify!($field)))?,
                            );
                        })+
                        _ => {}
                    }
                }
                Ok($ty {
                    $($field: match $field {
                        Some(v) => v,
                        None => from_map!(@missing $field $($default)?),
                    },)+
                })
            }
        }
    )+};
    (@missing $field:ident default) => { Default::default() };
    (@missing $field:ident) => {
        return Err(Problem::new("missing").at(stringify!($field)))
    };
}

from_map! {
    Localized { zh, en }
    GeoPoint { lat, lon, accuracy_m }
    PhotoRef { sha256, captured_at_ms, location }
    Scope { kind, id }
    User { id, name, role, scope }
    Street { id, name, district, hazard_rules = default }
    HazardRules {
        general_days, serious_days, major_candidate_days, recurrence_window_days,
        listing_after_recurrences, far_from_before_m, focus_min_hazards, focus_window_days,
    }
    Community { id, name, address }
    Grid { id, community, name }
    MicroStation { id, name, communities, address }
    Department { id, kind, name }
    EmergencyContact { name, relation, phone }
    KeyResident {
        id, community, premises, name, age, living_status, address, phone, emergency_contacts,
        smoke_alarm, mobility,
    }
    Contact { name, phone }
    Premises {
        id, kind, subtypes, name, address, community, grid, location, contact, floors, area_m2,
        households,
    }
    Coverage { every, patrol }
    ChecklistGroup { id, title }
    ChecklistItem {
        id, group, text, severity, photo_required_on_fail, required, only_for, gb35181, source,
        included_from,
    }
    Checklist { id, version, category, title, applies_to, coverage, groups, items }
    ElementGroup { id, title }
    Element { code, kind, group, text, certainty }
    ComprehensiveRule { place_types, counted, threshold }
    Exemption { id, text }
    Standard {
        format, id, version, title, status, review_note, groups, elements, comprehensive_rules,
        exemptions,
    }
    Answer { result, note, photos, answered_by, answered_at_ms }
    Inspection {
        schema, id, premises, checklist, checklist_version, items, inspector, device,
        started_at_ms, finished_at_ms, start_location, finish_location, status, answers,
        hazards,
    }
    HazardOrigin { inspection, item, checklist, checklist_version }
    HazardEvent {
        id, kind, by, device, at_ms, note, after = default, role = default, scope = default,
        photos = default, departments = default, deadline_ms = default, level = default,
    }
    Hazard {
        schema, id, premises, origin, severity, title, note, photos, location, reported_by,
        events, elements = default, recurrence_of = default, recurrence = default,
    }
}

/// A record read from its document, as its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The street.
    Street(Street),
    /// A community.
    Community(Community),
    /// A grid.
    Grid(Grid),
    /// A micro fire station.
    MicroStation(MicroStation),
    /// A member department.
    Department(Department),
    /// A user.
    User(User),
    /// A key resident.
    KeyResident(KeyResident),
    /// A premises.
    Premises(Premises),
    /// A checklist version.
    Checklist(Checklist),
    /// A GB 35181 version.
    Standard(Standard),
    /// An inspection.
    Inspection(Inspection),
    /// A hazard.
    Hazard(Hazard),
}

impl Record {
    /// Reads the document as a record of `kind`.
    pub fn read<D: ReadDoc>(kind: RecordKind, doc: &D) -> std::result::Result<Record, Problem> {
        Ok(match kind {
            RecordKind::Street => Record::Street(hydrate(doc)?),
            RecordKind::Community => Record::Community(hydrate(doc)?),
            RecordKind::Grid => Record::Grid(hydrate(doc)?),
            RecordKind::MicroStation => Record::MicroStation(hydrate(doc)?),
            RecordKind::Department => Record::Department(hydrate(doc)?),
            RecordKind::User => Record::User(hydrate(doc)?),
            RecordKind::KeyResident => Record::KeyResident(hydrate(doc)?),
            RecordKind::Premises => Record::Premises(hydrate(doc)?),
            RecordKind::Checklist => Record::Checklist(hydrate(doc)?),
            RecordKind::Standard => Record::Standard(hydrate(doc)?),
            RecordKind::Inspection => Record::Inspection(hydrate(doc)?),
            RecordKind::Hazard => Record::Hazard(hydrate(doc)?),
        })
    }

    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Street(_) => RecordKind::Street,
            Record::Community(_) => RecordKind::Community,
            Record::Grid(_) => RecordKind::Grid,
            Record::MicroStation(_) => RecordKind::MicroStation,
            Record::Department(_) => RecordKind::Department,
            Record::User(_) => RecordKind::User,
            Record::KeyResident(_) => RecordKind::KeyResident,
            Record::Premises(_) => RecordKind::Premises,
            Record::Checklist(_) => RecordKind::Checklist,
            Record::Standard(_) => RecordKind::Standard,
            Record::Inspection(_) => RecordKind::Inspection,
            Record::Hazard(_) => RecordKind::Hazard,
        }
    }

    /// The premises an inspection or a hazard belongs to (whose scope it takes).
    pub fn premises(&self) -> Option<&str> {
        match self {
            Record::Inspection(i) => Some(&i.premises),
            Record::Hazard(h) => Some(&h.premises),
            _ => None,
        }
    }
}

/// The format of [`Record::encode`]: postcard of the domain type, after this number as 4
/// little-endian bytes. Bump it whenever a shipped record could differ from what reading its
/// document gives: a field added, removed or reordered in Premises, Inspection, Hazard or
/// anything they hold (the pinned encoding in `core/tests/hydrate.rs` fails then), or a
/// change in how a document is read into them (a migration on read). A device takes a record
/// only in the format it speaks; any other is ignored and the document read instead.
pub const RECORD_FORMAT: u32 = 1;

impl Record {
    /// Whether records of `kind` travel encoded ([`Record::encode`]): premises, inspections
    /// and hazards, the bulk of a district.
    pub fn travels(kind: RecordKind) -> bool {
        matches!(
            kind,
            RecordKind::Premises | RecordKind::Inspection | RecordKind::Hazard
        )
    }

    /// Reads the document as a record of `kind` and encodes it ([`Record::encode`]); `None`
    /// for a kind that does not travel or a document that is not a valid record.
    pub fn read_encoded<D: ReadDoc>(kind: RecordKind, doc: &D) -> Option<Vec<u8>> {
        if !Record::travels(kind) {
            return None;
        }
        Record::read(kind, doc).ok()?.encode()
    }

    /// The record in [`RECORD_FORMAT`], for the kinds that travel this way (premises,
    /// inspections, hazards: the bulk of a district); `None` for the others. The server stores
    /// it with a document's snapshot so a device new to the document can take the record
    /// without reading the document ([`Record::decode`]). Also `None` for a record its serde
    /// form refuses to read back (a scope with an empty id, which only a crafted document
    /// holds): what is encoded is known to decode.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let out = RECORD_FORMAT.to_le_bytes().to_vec();
        let bytes = match self {
            Record::Premises(p) => postcard::to_extend(p, out).ok(),
            Record::Inspection(i) => postcard::to_extend(i, out).ok(),
            Record::Hazard(h) => postcard::to_extend(h, out).ok(),
            _ => None,
        }?;
        Record::decode(self.kind(), &bytes)
            .is_some()
            .then_some(bytes)
    }

    /// A record of `kind` from [`Record::encode`]'s bytes: `None` unless they are in
    /// [`RECORD_FORMAT`], of a kind that travels this way, and decode whole (no byte left).
    pub fn decode(kind: RecordKind, bytes: &[u8]) -> Option<Record> {
        fn whole<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
            match postcard::take_from_bytes(body) {
                Ok((value, [])) => Some(value),
                _ => None,
            }
        }
        let body = bytes.strip_prefix(&RECORD_FORMAT.to_le_bytes())?;
        match kind {
            RecordKind::Premises => whole(body).map(Record::Premises),
            RecordKind::Inspection => whole(body).map(Record::Inspection),
            RecordKind::Hazard => whole(body).map(Record::Hazard),
            _ => None,
        }
    }
}
