//! The direct document reader (`firegrid_core::hydrate`) against autosurgeon's `Hydrate`, for
//! every record kind: both must give the same value, or both must fail. Over the whole sample
//! district and records made through the store API, random records (proptest), documents
//! after merges of concurrent edits, and malformed documents (wrong types, missing and extra
//! fields, counters, text objects, crafted mark operations in a list).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue};
use autosurgeon::{Hydrate, Reconcile};
use firegrid_core::access::{Role, Scope, ScopeKind, User};
use firegrid_core::checklist::{Checklist, ChecklistGroup, ChecklistItem, Coverage, Period};
use firegrid_core::district::{
    Community, Department, DepartmentKind, EmergencyContact, Grid, KeyResident, LivingStatus,
    MicroStation, Mobility, SmokeAlarm, Street,
};
use firegrid_core::hazard::{
    Hazard, HazardEvent, HazardEventKind, HazardOrigin, HazardRules, Severity, SupervisionLevel,
};
use firegrid_core::hydrate::{FromDoc, Record};
use firegrid_core::inspection::{Answer, AnswerResult, Inspection, InspectionStatus};
use firegrid_core::premises::{Category, Contact, Premises, PremisesKind, Subtype};
use firegrid_core::standard::{
    Certainty, ComprehensiveRule, Element, ElementGroup, ElementKind, Exemption, Standard,
    StandardStatus,
};
use firegrid_core::store::RecordKind;
use firegrid_core::vocab::{GeoPoint, Localized, PhotoRef};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// What a reader made of a document: the value (as its `Debug` text, so that floats compare
/// bit for bit through their spelling), or a failure (with autosurgeon: maybe a panic).
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(String),
    Failed,
}

/// Both readers on one document as `T`; panics (fails the test) where they disagree or where
/// the direct reader panics. Returns the shared outcome.
fn same<T: Hydrate + FromDoc + Debug + PartialEq>(doc: &AutoCommit) -> Outcome {
    let theirs = catch_unwind(AssertUnwindSafe(|| autosurgeon::hydrate::<_, T>(doc)));
    let ours = firegrid_core::hydrate::hydrate::<T, _>(doc);
    match (theirs, ours) {
        (Ok(Ok(a)), Ok(b)) => {
            assert_eq!(a, b, "the readers give different values");
            Outcome::Value(format!("{b:?}"))
        }
        (Ok(Err(_)) | Err(_), Err(_)) => Outcome::Failed,
        (Ok(Ok(a)), Err(p)) => {
            panic!("only the direct reader fails ({p}) where autosurgeon reads {a:?}")
        }
        (Ok(Err(e)), Ok(b)) => {
            panic!("only autosurgeon fails ({e}) where the direct reader reads {b:?}")
        }
        (Err(_), Ok(b)) => panic!("autosurgeon panics where the direct reader reads {b:?}"),
    }
}

/// [`same`] for the record type of `kind`, and `Record::read` agreeing with it.
fn same_as_kind(kind: RecordKind, doc: &AutoCommit) -> Outcome {
    let outcome = match kind {
        RecordKind::Street => same::<Street>(doc),
        RecordKind::Community => same::<Community>(doc),
        RecordKind::Grid => same::<Grid>(doc),
        RecordKind::MicroStation => same::<MicroStation>(doc),
        RecordKind::Department => same::<Department>(doc),
        RecordKind::User => same::<User>(doc),
        RecordKind::KeyResident => same::<KeyResident>(doc),
        RecordKind::Premises => same::<Premises>(doc),
        RecordKind::Checklist => same::<Checklist>(doc),
        RecordKind::Standard => same::<Standard>(doc),
        RecordKind::Inspection => same::<Inspection>(doc),
        RecordKind::Hazard => same::<Hazard>(doc),
    };
    assert_eq!(
        Record::read(kind, doc).is_ok(),
        outcome != Outcome::Failed,
        "Record::read disagrees for {kind:?}"
    );
    outcome
}

// ---------------------------------------------------------------- the sample district

#[test]
fn every_record_of_the_sample_district_and_of_the_api_reads_the_same() {
    use firegrid_core::hazard::HazardAction;
    let dir = tempfile::tempdir().unwrap();
    let store = common::seeded_store(dir.path());
    let office = common::user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    // Inspections (in progress, finished with failed items) and the hazards they make,
    // some of them filed, dispatched and reported on.
    let shops: Vec<_> = common::loaded()
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .take(6)
        .collect();
    for (n, shop) in shops.iter().enumerate() {
        let insp = store.start_inspection(&shop.id, None).unwrap();
        for (i, item) in insp.items.iter().enumerate() {
            let fail = n % 2 == 0 && i % 4 == 1;
            let result = if fail {
                AnswerResult::Fail
            } else {
                AnswerResult::Pass
            };
            store
                .answer(
                    &insp.id,
                    item,
                    result,
                    fail.then(|| "堵塞 blocked".to_string()),
                )
                .unwrap();
            if fail {
                store
                    .attach_photo(&insp.id, item, common::photo(i as u8))
                    .unwrap();
            }
        }
        if n % 3 != 2 {
            let report = store.finish_inspection(&insp.id, None).unwrap();
            for (k, hazard) in report.hazards.iter().enumerate() {
                store
                    .hazard_action(
                        hazard,
                        HazardAction::File {
                            deadline_ms: None,
                            note: Some("立案".into()),
                        },
                    )
                    .unwrap();
                if k % 2 == 0 {
                    store
                        .hazard_action(
                            hazard,
                            HazardAction::Dispatch {
                                departments: vec!["dept.enforcement".into()],
                                note: None,
                            },
                        )
                        .unwrap();
                }
            }
        }
    }
    let mut kinds = BTreeMap::new();
    for (id, kind, bytes) in store.export_records().unwrap() {
        let doc = AutoCommit::load(&bytes).unwrap();
        assert_ne!(
            same_as_kind(kind, &doc),
            Outcome::Failed,
            "{id} does not read as a {kind:?}"
        );
        encodes_back(&Record::read(kind, &doc).unwrap());
        *kinds.entry(kind).or_insert(0) += 1;
    }
    for kind in RecordKind::ALL {
        assert!(
            kinds.contains_key(kind),
            "no {kind:?} in the sample: {kinds:?}"
        );
    }
    assert!(kinds[&RecordKind::Hazard] >= 3, "{kinds:?}");
}

// ---------------------------------------------------------------- random records

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._:-]{0,12}",
        "\\PC{0,10}",
        Just(String::new()),
        Just("堵塞".to_string()),
    ]
}

fn localized() -> impl Strategy<Value = Localized> {
    (text(), text()).prop_map(|(zh, en)| Localized { zh, en })
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e9f64..1e9,
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE)
    ]
}

fn point() -> impl Strategy<Value = GeoPoint> {
    (float(), float(), proptest::option::of(float())).prop_map(|(lat, lon, accuracy_m)| GeoPoint {
        lat,
        lon,
        accuracy_m,
    })
}

fn photo() -> impl Strategy<Value = PhotoRef> {
    (
        text(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(point()),
    )
        .prop_map(|(sha256, captured_at_ms, location)| PhotoRef {
            sha256,
            captured_at_ms,
            location,
        })
}

fn one_of<T: Copy + Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn list<T: Strategy>(s: T) -> impl Strategy<Value = Vec<T::Value>> {
    proptest::collection::vec(s, 0..4)
}

fn scope() -> impl Strategy<Value = Scope> {
    (one_of(ScopeKind::ALL), text()).prop_map(|(kind, id)| Scope { kind, id })
}

fn user() -> BoxedStrategy<User> {
    (text(), text(), one_of(Role::ALL), scope())
        .prop_map(|(id, name, role, scope)| User {
            id,
            name,
            role,
            scope,
        })
        .boxed()
}

fn rules() -> impl Strategy<Value = HazardRules> {
    proptest::collection::vec(any::<u32>(), 8).prop_map(|v| HazardRules {
        general_days: v[0],
        serious_days: v[1],
        major_candidate_days: v[2],
        recurrence_window_days: v[3],
        listing_after_recurrences: v[4],
        far_from_before_m: v[5],
        focus_min_hazards: v[6],
        focus_window_days: v[7],
    })
}

fn street() -> BoxedStrategy<Street> {
    (
        text(),
        localized(),
        localized(),
        proptest::option::of(rules()),
    )
        .prop_map(|(id, name, district, hazard_rules)| Street {
            id,
            name,
            district,
            hazard_rules,
        })
        .boxed()
}

fn community() -> BoxedStrategy<Community> {
    (text(), localized(), text())
        .prop_map(|(id, name, address)| Community { id, name, address })
        .boxed()
}

fn grid() -> BoxedStrategy<Grid> {
    (text(), text(), localized())
        .prop_map(|(id, community, name)| Grid {
            id,
            community,
            name,
        })
        .boxed()
}

fn station() -> BoxedStrategy<MicroStation> {
    (text(), localized(), list(text()), text())
        .prop_map(|(id, name, communities, address)| MicroStation {
            id,
            name,
            communities,
            address,
        })
        .boxed()
}

fn department() -> BoxedStrategy<Department> {
    (text(), one_of(DepartmentKind::ALL), localized())
        .prop_map(|(id, kind, name)| Department { id, kind, name })
        .boxed()
}

fn key_resident() -> BoxedStrategy<KeyResident> {
    (
        (text(), text(), text(), text(), any::<u32>()),
        (
            one_of(LivingStatus::ALL),
            text(),
            proptest::option::of(text()),
        ),
        list((text(), text(), text())),
        (one_of(SmokeAlarm::ALL), one_of(Mobility::ALL)),
    )
        .prop_map(
            |(
                (id, community, premises, name, age),
                (living_status, address, phone),
                contacts,
                (smoke_alarm, mobility),
            )| KeyResident {
                id,
                community,
                premises,
                name,
                age,
                living_status,
                address,
                phone,
                emergency_contacts: contacts
                    .into_iter()
                    .map(|(name, relation, phone)| EmergencyContact {
                        name,
                        relation,
                        phone,
                    })
                    .collect(),
                smoke_alarm,
                mobility,
            },
        )
        .boxed()
}

fn premises() -> BoxedStrategy<Premises> {
    (
        (
            text(),
            one_of(PremisesKind::ALL),
            list(one_of(Subtype::ALL)),
        ),
        (text(), text(), text(), text()),
        (
            proptest::option::of(point()),
            proptest::option::of((text(), proptest::option::of(text()))),
        ),
        proptest::collection::vec(proptest::option::of(any::<u32>()), 3),
    )
        .prop_map(
            |((id, kind, subtypes), (name, address, community, grid), (location, contact), n)| {
                Premises {
                    id,
                    kind,
                    subtypes,
                    name,
                    address,
                    community,
                    grid,
                    location,
                    contact: contact.map(|(name, phone)| Contact { name, phone }),
                    floors: n[0],
                    area_m2: n[1],
                    households: n[2],
                }
            },
        )
        .boxed()
}

fn checklist_item() -> impl Strategy<Value = ChecklistItem> {
    (
        (text(), text(), localized(), one_of(Severity::ALL)),
        (any::<bool>(), any::<bool>(), list(text()), list(text())),
        (text(), proptest::option::of(text())),
    )
        .prop_map(
            |(
                (id, group, text, severity),
                (photo_required_on_fail, required, only_for, gb35181),
                (source, included_from),
            )| ChecklistItem {
                id,
                group,
                text,
                severity,
                photo_required_on_fail,
                required,
                only_for,
                gb35181,
                source,
                included_from,
            },
        )
}

fn checklist() -> BoxedStrategy<Checklist> {
    (
        (text(), any::<u32>(), one_of(Category::ALL), localized()),
        list(one_of(PremisesKind::ALL)),
        (
            one_of(Period::ALL),
            proptest::option::of(one_of(Period::ALL)),
        ),
        list((text(), localized())),
        list(checklist_item()),
    )
        .prop_map(
            |((id, version, category, title), applies_to, (every, patrol), groups, items)| {
                Checklist {
                    id,
                    version,
                    category,
                    title,
                    applies_to,
                    coverage: Coverage { every, patrol },
                    groups: groups
                        .into_iter()
                        .map(|(id, title)| ChecklistGroup { id, title })
                        .collect(),
                    items,
                }
            },
        )
        .boxed()
}

fn standard() -> BoxedStrategy<Standard> {
    (
        (text(), text(), text(), localized()),
        (one_of(StandardStatus::ALL), localized()),
        list((text(), localized())),
        list((
            text(),
            one_of(ElementKind::ALL),
            text(),
            localized(),
            one_of(Certainty::ALL),
        )),
        list((list(text()), list(text()), any::<u32>())),
        list((text(), localized())),
    )
        .prop_map(
            |((format, id, version, title), (status, review_note), groups, elements, rules, ex)| {
                Standard {
                    format,
                    id,
                    version,
                    title,
                    status,
                    review_note,
                    groups: groups
                        .into_iter()
                        .map(|(id, title)| ElementGroup { id, title })
                        .collect(),
                    elements: elements
                        .into_iter()
                        .map(|(code, kind, group, text, certainty)| Element {
                            code,
                            kind,
                            group,
                            text,
                            certainty,
                        })
                        .collect(),
                    comprehensive_rules: rules
                        .into_iter()
                        .map(|(place_types, counted, threshold)| ComprehensiveRule {
                            place_types,
                            counted,
                            threshold,
                        })
                        .collect(),
                    exemptions: ex
                        .into_iter()
                        .map(|(id, text)| Exemption { id, text })
                        .collect(),
                }
            },
        )
        .boxed()
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        proptest::option::of(one_of(AnswerResult::ALL)),
        proptest::option::of(text()),
        list(photo()),
        text(),
        any::<i64>(),
    )
        .prop_map(
            |(result, note, photos, answered_by, answered_at_ms)| Answer {
                result,
                note,
                photos,
                answered_by,
                answered_at_ms,
            },
        )
}

fn inspection() -> BoxedStrategy<Inspection> {
    (
        (any::<u32>(), text(), text(), text(), any::<u32>()),
        (list(text()), text(), text(), any::<i64>()),
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(point()),
            proptest::option::of(point()),
            one_of(InspectionStatus::ALL),
        ),
        proptest::collection::btree_map(text(), answer(), 0..4),
        list(text()),
    )
        .prop_map(
            |(
                (schema, id, premises, checklist, checklist_version),
                (items, inspector, device, started_at_ms),
                (finished_at_ms, start_location, finish_location, status),
                answers,
                hazards,
            )| Inspection {
                schema,
                id,
                premises,
                checklist,
                checklist_version,
                items,
                inspector,
                device,
                started_at_ms,
                finished_at_ms,
                start_location,
                finish_location,
                status,
                answers,
                hazards,
            },
        )
        .boxed()
}

fn event() -> impl Strategy<Value = HazardEvent> {
    (
        (
            text(),
            one_of(HazardEventKind::ALL),
            text(),
            text(),
            any::<i64>(),
        ),
        (proptest::option::of(text()), list(text())),
        (
            proptest::option::of(one_of(Role::ALL)),
            proptest::option::of(scope()),
            list(photo()),
            list(text()),
        ),
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(one_of(SupervisionLevel::ALL)),
        ),
    )
        .prop_map(
            |(
                (id, kind, by, device, at_ms),
                (note, after),
                (role, scope, photos, departments),
                (deadline_ms, level),
            )| HazardEvent {
                id,
                kind,
                by,
                device,
                at_ms,
                note,
                after,
                role,
                scope,
                photos,
                departments,
                deadline_ms,
                level,
            },
        )
}

fn hazard() -> BoxedStrategy<Hazard> {
    (
        (
            any::<u32>(),
            text(),
            text(),
            one_of(Severity::ALL),
            localized(),
        ),
        proptest::collection::vec(proptest::option::of(text()), 3),
        proptest::option::of(any::<u32>()),
        (
            proptest::option::of(text()),
            list(photo()),
            proptest::option::of(point()),
            text(),
        ),
        list(event()),
        (list(text()), proptest::option::of(text()), any::<u32>()),
    )
        .prop_map(
            |(
                (schema, id, premises, severity, title),
                origin,
                checklist_version,
                (note, photos, location, reported_by),
                events,
                (elements, recurrence_of, recurrence),
            )| Hazard {
                schema,
                id,
                premises,
                origin: HazardOrigin {
                    inspection: origin[0].clone(),
                    item: origin[1].clone(),
                    checklist: origin[2].clone(),
                    checklist_version,
                },
                severity,
                title,
                note,
                photos,
                location,
                reported_by,
                events,
                elements,
                recurrence_of,
                recurrence,
            },
        )
        .boxed()
}

/// What the tests do with a record of any kind: write it as autosurgeon does, and spell it
/// the way [`Outcome::Value`] holds it.
trait Written {
    fn reconcile(&self, doc: &mut AutoCommit);
    fn debug(&self) -> String;
}

impl Written for Record {
    fn reconcile(&self, doc: &mut AutoCommit) {
        fn put<T: Reconcile>(doc: &mut AutoCommit, v: &T) {
            autosurgeon::reconcile(doc, v).unwrap();
        }
        match self {
            Record::Street(v) => put(doc, v),
            Record::Community(v) => put(doc, v),
            Record::Grid(v) => put(doc, v),
            Record::MicroStation(v) => put(doc, v),
            Record::Department(v) => put(doc, v),
            Record::User(v) => put(doc, v),
            Record::KeyResident(v) => put(doc, v),
            Record::Premises(v) => put(doc, v),
            Record::Checklist(v) => put(doc, v),
            Record::Standard(v) => put(doc, v),
            Record::Inspection(v) => put(doc, v),
            Record::Hazard(v) => put(doc, v),
        }
        doc.commit();
    }

    /// The record's `Debug` text (what [`Outcome::Value`] holds for its document).
    fn debug(&self) -> String {
        match self {
            Record::Street(v) => format!("{v:?}"),
            Record::Community(v) => format!("{v:?}"),
            Record::Grid(v) => format!("{v:?}"),
            Record::MicroStation(v) => format!("{v:?}"),
            Record::Department(v) => format!("{v:?}"),
            Record::User(v) => format!("{v:?}"),
            Record::KeyResident(v) => format!("{v:?}"),
            Record::Premises(v) => format!("{v:?}"),
            Record::Checklist(v) => format!("{v:?}"),
            Record::Standard(v) => format!("{v:?}"),
            Record::Inspection(v) => format!("{v:?}"),
            Record::Hazard(v) => format!("{v:?}"),
        }
    }
}

fn any_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        street().prop_map(Record::Street),
        community().prop_map(Record::Community),
        grid().prop_map(Record::Grid),
        station().prop_map(Record::MicroStation),
        department().prop_map(Record::Department),
        user().prop_map(Record::User),
        key_resident().prop_map(Record::KeyResident),
        premises().prop_map(Record::Premises),
        checklist().prop_map(Record::Checklist),
        standard().prop_map(Record::Standard),
        inspection().prop_map(Record::Inspection),
        hazard().prop_map(Record::Hazard),
    ]
}

/// The same kind twice (for concurrent edits of one record).
fn same_kind_pair() -> impl Strategy<Value = (Record, Record, Record)> {
    macro_rules! three {
        ($($s:ident => $v:ident),+) => {
            prop_oneof![$(
                ($s(), $s(), $s()).prop_map(|(a, b, c)| (Record::$v(a), Record::$v(b), Record::$v(c)))
            ),+]
        };
    }
    three![
        street => Street, community => Community, grid => Grid, station => MicroStation,
        department => Department, user => User, key_resident => KeyResident,
        premises => Premises, checklist => Checklist, standard => Standard,
        inspection => Inspection, hazard => Hazard
    ]
}

/// The record as the server ships it ([`Record::encode`]) decodes to exactly itself (as its
/// `Debug` text, floats bit for bit) for the kinds that travel so, and is `None` for the others;
/// no cut of it, no longer bytes and no other format decode.
fn encodes_back(record: &Record) {
    let kind = record.kind();
    let travels = matches!(
        kind,
        RecordKind::Premises | RecordKind::Inspection | RecordKind::Hazard
    );
    let Some(bytes) = record.encode() else {
        // Only a scope its serde form refuses (an empty id) keeps a record from travelling.
        let refused_scope = match record {
            Record::Hazard(h) => h
                .events
                .iter()
                .any(|e| e.scope.as_ref().is_some_and(|s| s.id.is_empty())),
            _ => false,
        };
        assert!(!travels || refused_scope, "a {kind:?} does not encode");
        return;
    };
    assert!(travels, "a {kind:?} encodes");
    let back = Record::decode(kind, &bytes).expect("decodes");
    assert_eq!(back.debug(), record.debug());
    for cut in [0, 3, 4, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            Record::decode(kind, &bytes[..cut]).is_none(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Record::decode(kind, &longer).is_none(), "a trailing byte");
    let mut other_format = bytes;
    other_format[0] ^= 0xff;
    assert!(
        Record::decode(kind, &other_format).is_none(),
        "another format"
    );
}

/// The shipped-record encoding is pinned: when this fails, a field or a type changed, and
/// `RECORD_FORMAT` must go up with the new digests (devices then ignore records in the old
/// format and read the documents instead, and the server re-encodes at its next snapshot).
#[test]
fn the_shipped_record_encoding_is_pinned() {
    use sha2::{Digest, Sha256};
    let digest = |r: Record| -> String {
        let bytes = r.encode().unwrap();
        Sha256::digest(&bytes)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            + &format!("/{}", bytes.len())
    };
    let premises = Premises {
        id: "prem.1".into(),
        kind: PremisesKind::ALL[0],
        subtypes: vec![Subtype::ALL[0]],
        name: "小店 shop".into(),
        address: "真如路 1 号".into(),
        community: "comm.1".into(),
        grid: "grid.1".into(),
        location: Some(GeoPoint {
            lat: 31.25,
            lon: 121.4,
            accuracy_m: Some(5.0),
        }),
        contact: Some(Contact {
            name: "王".into(),
            phone: None,
        }),
        floors: Some(2),
        area_m2: None,
        households: Some(0),
    };
    let inspection = Record::Inspection(sample_inspection());
    let hazard = Record::Hazard(bare_hazard());
    assert_eq!(firegrid_core::hydrate::RECORD_FORMAT, 1);
    assert_eq!(
        [
            digest(Record::Premises(premises)),
            digest(inspection),
            digest(hazard)
        ],
        [
            "df5eb8c583073748/134",
            "55843f3af13ded1e/181",
            "19d99ac2bfade3ca/55"
        ]
    );
}

fn cases() -> u32 {
    std::env::var("FIREGRID_HYDRATE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

proptest! {
    #![proptest_config(config())]

    /// Every random record reads back as itself, through both readers.
    #[test]
    fn random_records_read_back_identically(record in any_record()) {
        let mut doc = AutoCommit::new().with_actor(actor(1));
        record.reconcile(&mut doc);
        let outcome = same_as_kind(record.kind(), &doc);
        prop_assert_eq!(outcome, Outcome::Value(record.debug()));
        // And after a save and load (what the device and the server hold).
        let doc = AutoCommit::load(&doc.save()).unwrap();
        prop_assert_eq!(same_as_kind(record.kind(), &doc), Outcome::Value(record.debug()));
        encodes_back(&Record::read(record.kind(), &doc).unwrap());
    }

    /// Three replicas edit one record concurrently (each writes a whole other value of the
    /// same kind over the shared base); every merge reads the same through both readers.
    #[test]
    fn merges_of_concurrent_edits_read_the_same((base, a, b) in same_kind_pair(), order in 0..3u8) {
        let mut doc = AutoCommit::new().with_actor(actor(1));
        base.reconcile(&mut doc);
        let mut left = doc.fork().with_actor(actor(2));
        let mut right = doc.fork().with_actor(actor(3));
        a.reconcile(&mut left);
        b.reconcile(&mut right);
        same_as_kind(base.kind(), &left);
        match order {
            0 => {
                left.merge(&mut right).unwrap();
                same_as_kind(base.kind(), &left);
            }
            1 => {
                right.merge(&mut left).unwrap();
                same_as_kind(base.kind(), &right);
            }
            _ => {
                // A third edit after the merge, concurrent with nothing.
                left.merge(&mut right).unwrap();
                base.reconcile(&mut left);
                same_as_kind(base.kind(), &left);
                // Equal as values, not as text: reconcile writes only what differs under `==`,
                // and 0.0 == -0.0, so a zero may keep the sign the merge gave it.
                prop_assert_eq!(Record::read(base.kind(), &left).ok(), Some(base.clone()));
            }
        }
        doc.merge(&mut left).unwrap();
        doc.merge(&mut right).unwrap();
        same_as_kind(base.kind(), &doc);
    }

    /// Random damage anywhere in a record's document: both readers fail, or both read the
    /// same value (an extra key, or a change the type does not see).
    #[test]
    fn malformed_documents_fail_or_read_the_same(
        record in any_record(),
        damage in proptest::collection::vec((any::<u32>(), 0..DAMAGE_KINDS, any::<u64>()), 1..4),
        concurrent in any::<bool>(),
    ) {
        let mut doc = AutoCommit::new().with_actor(actor(1));
        record.reconcile(&mut doc);
        if concurrent {
            // Two replicas damage it independently, then merge.
            let mut other = doc.fork().with_actor(actor(2));
            let (first, second) = damage.split_at(damage.len() / 2);
            for d in first {
                harm(&mut doc, *d);
            }
            for d in second {
                harm(&mut other, *d);
            }
            doc.commit();
            other.commit();
            doc.merge(&mut other).unwrap();
        } else {
            for d in &damage {
                harm(&mut doc, *d);
            }
            doc.commit();
        }
        same_as_kind(record.kind(), &doc);
        let doc = AutoCommit::load(&doc.save()).unwrap();
        same_as_kind(record.kind(), &doc);
    }
}

/// Every place in the document a value can be put at: (object, key) of maps and (object,
/// index) of lists, the root included.
#[derive(Debug, Clone)]
enum Place {
    Key(ObjId, String),
    Index(ObjId, usize),
    /// A list with no elements (an insert can go at 0).
    EmptyList(ObjId),
    Map(ObjId),
}

fn places(doc: &AutoCommit, obj: &ObjId, ty: ObjType, out: &mut Vec<Place>) {
    match ty {
        ObjType::Map => {
            out.push(Place::Map(obj.clone()));
            for item in doc.map_range(obj, ..) {
                out.push(Place::Key(obj.clone(), item.key.to_string()));
                if let automerge::ValueRef::Object(t) = item.value {
                    places(doc, &item.id(), t, out);
                }
            }
        }
        ObjType::List => {
            if doc.length(obj) == 0 {
                out.push(Place::EmptyList(obj.clone()));
            }
            for item in doc.list_range(obj, ..) {
                out.push(Place::Index(obj.clone(), item.index));
                if let automerge::ValueRef::Object(t) = item.value {
                    places(doc, &item.id(), t, out);
                }
            }
        }
        // This automerge takes no puts into tables, and text holds no record field.
        ObjType::Text | ObjType::Table => {}
    }
}

const DAMAGE_KINDS: u8 = 17;

/// One random change at one random place: delete it, or put there a value of another type
/// (every scalar type, an empty or non-empty object of every type), or add an extra key or
/// element.
fn harm(doc: &mut AutoCommit, (at, what, n): (u32, u8, u64)) {
    let mut all = Vec::new();
    places(doc, &automerge::ROOT, ObjType::Map, &mut all);
    let place = all[at as usize % all.len()].clone();
    let scalar = |what: u8| -> Option<ScalarValue> {
        Some(match what {
            0 => ScalarValue::Str(format!("v{n}").into()),
            1 => ScalarValue::Int(n as i64),
            2 => ScalarValue::Uint(n),
            3 => ScalarValue::Uint(n % 3),
            4 => ScalarValue::F64(n as f64),
            5 => ScalarValue::Boolean(n % 2 == 0),
            6 => ScalarValue::Null,
            7 => ScalarValue::counter(n as i64),
            8 => ScalarValue::Timestamp(n as i64),
            9 => ScalarValue::Bytes(n.to_le_bytes().to_vec()),
            10 => ScalarValue::Str(
                ["pass", "fail", "in_progress", "street", "admin", "general"][n as usize % 6]
                    .into(),
            ),
            _ => return None,
        })
    };
    let object = |what: u8| match what {
        11 => ObjType::Map,
        12 => ObjType::List,
        13 => ObjType::Text,
        _ => ObjType::Table,
    };
    match (place, what) {
        (Place::Key(obj, key), 15) => {
            doc.delete(&obj, key.as_str()).unwrap();
        }
        (Place::Index(obj, i), 15) => {
            doc.delete(&obj, i).unwrap();
        }
        (Place::Map(obj), 16) => {
            // An extra key, of any scalar.
            let v = scalar((n % 11) as u8).unwrap();
            doc.put(&obj, format!("extra{}", n % 5).as_str(), v)
                .unwrap();
        }
        (Place::EmptyList(obj), _) | (Place::Index(obj, _), 16) => {
            let len = doc.length(&obj);
            match scalar((n % 12) as u8) {
                Some(v) => doc.insert(&obj, (n as usize) % (len + 1), v).unwrap(),
                None => {
                    doc.insert_object(&obj, (n as usize) % (len + 1), ObjType::Map)
                        .unwrap();
                }
            }
        }
        (Place::Key(obj, key), w) => match scalar(w) {
            Some(v) => {
                doc.put(&obj, key.as_str(), v).unwrap();
            }
            None => {
                let child = doc.put_object(&obj, key.as_str(), object(w)).unwrap();
                fill(doc, &child, object(w), n);
            }
        },
        (Place::Index(obj, i), w) => match scalar(w) {
            Some(v) => {
                doc.put(&obj, i, v).unwrap();
            }
            None => {
                let child = doc.put_object(&obj, i, object(w)).unwrap();
                fill(doc, &child, object(w), n);
            }
        },
        (Place::Map(obj), _) => {
            doc.put(&obj, "extra", n).unwrap();
        }
    }
}

/// Sometimes puts something into a new object.
fn fill(doc: &mut AutoCommit, obj: &ObjId, ty: ObjType, n: u64) {
    if n.is_multiple_of(2) {
        return;
    }
    // (Tables take no puts through this API: those stay empty.)
    let _ = match ty {
        ObjType::Map | ObjType::Table => doc
            .put(obj, "zh", "甲")
            .and_then(|()| doc.put(obj, "en", "a")),
        ObjType::List => doc.insert(obj, 0, "a"),
        ObjType::Text => doc.splice_text(obj, 0, 0, "pass"),
    };
}

// ---------------------------------------------------------------- handpicked documents

#[test]
fn an_empty_document_is_no_record_of_any_kind() {
    let doc = AutoCommit::new();
    for kind in RecordKind::ALL {
        assert_eq!(same_as_kind(*kind, &doc), Outcome::Failed, "{kind:?}");
    }
}

fn sample_inspection() -> Inspection {
    let mut answers = BTreeMap::new();
    answers.insert(
        "shop.exit".to_string(),
        Answer {
            result: Some(AnswerResult::Fail),
            note: Some("堵塞".into()),
            photos: vec![common::photo(1)],
            answered_by: "u.1".into(),
            answered_at_ms: 5,
        },
    );
    Inspection {
        schema: 1,
        id: "insp.1".into(),
        premises: "prem.1".into(),
        checklist: "street_shop".into(),
        checklist_version: 1,
        items: vec!["shop.exit".into(), "shop.wires".into()],
        inspector: "u.1".into(),
        device: "d".into(),
        started_at_ms: 1,
        finished_at_ms: None,
        start_location: None,
        finish_location: None,
        status: InspectionStatus::InProgress,
        answers,
        hazards: vec![],
    }
}

fn inspection_doc() -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor(1));
    autosurgeon::reconcile(&mut doc, sample_inspection()).unwrap();
    doc.commit();
    doc
}

#[test]
fn wrong_types_in_every_field_fail_in_both() {
    let fields = [
        "schema",
        "id",
        "premises",
        "checklist",
        "checklist_version",
        "items",
        "inspector",
        "device",
        "started_at_ms",
        "finished_at_ms",
        "start_location",
        "finish_location",
        "status",
        "answers",
        "hazards",
    ];
    let values = [
        ScalarValue::Str("x".into()),
        ScalarValue::Int(-1),
        ScalarValue::Uint(u64::from(u32::MAX) + 1),
        ScalarValue::F64(1.5),
        ScalarValue::Boolean(true),
        ScalarValue::counter(3),
        ScalarValue::Timestamp(9),
        ScalarValue::Bytes(vec![1]),
    ];
    let mut failures = 0;
    for field in fields {
        let mut doc = inspection_doc();
        doc.delete(automerge::ROOT, field).unwrap();
        assert_eq!(same::<Inspection>(&doc), Outcome::Failed, "without {field}");
        for v in &values {
            let mut doc = inspection_doc();
            doc.put(automerge::ROOT, field, v.clone()).unwrap();
            if same::<Inspection>(&doc) == Outcome::Failed {
                failures += 1;
            }
        }
        for ty in [ObjType::Map, ObjType::List, ObjType::Text, ObjType::Table] {
            let mut doc = inspection_doc();
            doc.put_object(automerge::ROOT, field, ty).unwrap();
            same::<Inspection>(&doc);
        }
    }
    // Most of them fail (a null is an empty Option; a string is a string …).
    assert!(failures > 80, "{failures}");
    // An extra field is ignored by both.
    let mut doc = inspection_doc();
    doc.put(automerge::ROOT, "later_field", 3).unwrap();
    assert_eq!(
        same::<Inspection>(&doc),
        Outcome::Value(format!("{:?}", sample_inspection()))
    );
}

#[test]
fn fields_with_a_default_may_be_missing_in_both() {
    // A version-1 hazard document: none of the lifecycle fields.
    let h = bare_hazard();
    let mut doc = AutoCommit::new().with_actor(actor(1));
    autosurgeon::reconcile(&mut doc, &h).unwrap();
    for field in ["elements", "recurrence_of", "recurrence"] {
        doc.delete(automerge::ROOT, field).unwrap();
    }
    assert_eq!(same::<Hazard>(&doc), Outcome::Value(format!("{h:?}")));
    // Without a field that has no default, neither reads it.
    doc.delete(automerge::ROOT, "reported_by").unwrap();
    assert_eq!(same::<Hazard>(&doc), Outcome::Failed);
}

fn bare_hazard() -> Hazard {
    Hazard {
        schema: 2,
        id: "hz.1".into(),
        premises: "prem.1".into(),
        origin: HazardOrigin::default(),
        severity: Severity::General,
        title: Localized {
            zh: "堵塞".into(),
            en: "blocked".into(),
        },
        note: None,
        photos: vec![],
        location: None,
        reported_by: "u.1".into(),
        events: vec![],
        elements: vec![],
        recurrence_of: None,
        recurrence: 0,
    }
}

/// An inspection whose `items` is a text object turned into a list by rewriting the change
/// that made it (the API refuses marks on lists; a crafted change does not): "abcd", marked
/// from `from` to `to` with `value`, then `delete` characters removed from the start.
/// Returns the document (saved and loaded) and the list.
fn forged_list_with_marks(
    value: ScalarValue,
    (from, to): (usize, usize),
    delete: isize,
) -> (AutoCommit, ObjId) {
    use automerge::marks::{ExpandMark, Mark};
    let mut doc = AutoCommit::new().with_actor(actor(1));
    autosurgeon::reconcile(&mut doc, sample_inspection()).unwrap();
    doc.commit();
    let base = doc.get_heads();
    let items = doc
        .put_object(automerge::ROOT, "items", ObjType::Text)
        .unwrap();
    doc.splice_text(&items, 0, 0, "abcd").unwrap();
    doc.mark(
        &items,
        Mark::new("bold".into(), value, from, to),
        ExpandMark::Both,
    )
    .unwrap();
    doc.splice_text(&items, 0, delete, "").unwrap();
    doc.commit();
    let crafted: Vec<automerge::Change> = doc
        .get_changes(&base)
        .into_iter()
        .map(|c| {
            let mut expanded = c.decode();
            for op in &mut expanded.operations {
                if op.action == automerge::legacy::OpType::Make(ObjType::Text) {
                    op.action = automerge::legacy::OpType::Make(ObjType::List);
                }
            }
            expanded.hash = None;
            automerge::Change::from(expanded)
        })
        .collect();
    let mut forged = AutoCommit::new();
    forged
        .apply_changes(doc.get_changes(&[])[..1].to_vec())
        .unwrap();
    forged.apply_changes(crafted).unwrap();
    let forged = AutoCommit::load(&forged.save()).unwrap();
    let (_, list) = forged.get(automerge::ROOT, "items").unwrap().unwrap();
    assert_eq!(forged.object_type(&list).unwrap(), ObjType::List);
    (forged, list)
}

/// The direct reader looks for marks only in a list whose `length` is not 0: mark operations
/// are counted by it (and listed by `list_range`), so even a crafted list whose every element
/// was deleted, leaving only its marks' operations, is looked at (or holds no mark at all).
#[test]
fn a_list_left_with_only_mark_operations_is_still_looked_at() {
    for range in [(0, 4), (1, 3), (0, 0)] {
        let (forged, list) = forged_list_with_marks(ScalarValue::Str("x".into()), range, 4);
        // No element is left, and the marks' range is gone with them, but their operations
        // are still counted and listed.
        assert!(forged.marks(&list).unwrap().is_empty());
        let listed = forged.list_range(&list, ..).count();
        assert!(listed > 0, "the mark operations are listed");
        assert_eq!(
            forged.length(&list),
            listed,
            "length counts what list_range lists"
        );
        // They are read as elements (the end of a mark as a null), so the record is refused.
        assert!(firegrid_core::hydrate::hydrate::<Inspection, _>(&forged).is_err());
        assert!(Record::read(RecordKind::Inspection, &forged).is_err());
    }
}

/// A list whose elements are interleaved with mark operations ([`forged_list_with_marks`]).
/// `ReadDoc::hydrate` panics on such a document. Here is the one place the direct reader
/// differs from autosurgeon on purpose: autosurgeon reads each mark operation as an element
/// (`"markBegin"`, `"markEnd"`), the direct reader refuses the list.
#[test]
fn a_crafted_list_with_marks_is_refused_without_panicking() {
    for value in [
        ScalarValue::Str("shop.exit".into()),
        ScalarValue::Boolean(true),
    ] {
        let (forged, _) = forged_list_with_marks(value, (1, 3), 0);
        let theirs = autosurgeon::hydrate::<_, Inspection>(&forged).unwrap();
        assert!(
            theirs.items.contains(&"markBegin".to_string()),
            "{theirs:?}"
        );
        let ours = firegrid_core::hydrate::hydrate::<Inspection, _>(&forged).unwrap_err();
        assert!(ours.to_string().contains("mark"), "{ours}");
        assert!(Record::read(RecordKind::Inspection, &forged).is_err());
    }
}
