//! The hazard closed loop between real device stores and the sans-I/O sync engine: every step
//! allowed and refused per role, the concurrency decision table pair by pair through real
//! syncs between phones that were offline, the server's refusal of unauthorized events, and
//! the rules made from the folded cases (deadlines and reminders, recurrence, listing,
//! suspected major hazards, focused supervision).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use common::{Device as Phone, fixtures, template};

use automerge::{ActorId, AutoCommit};
use firegrid_core::Error;
use firegrid_core::access::{Role, User};
use firegrid_core::hazard::{
    FlagReason, HazardAction, HazardCase, HazardEvent, HazardEventKind, HazardStatus, NewHazard,
    Rectification, Severity, SupervisionLevel, lifecycle,
};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::{Category, Premises};
use firegrid_core::sync::protocol::{DocChanges, PushOutcome, RefusalReason, SyncRequest};
use firegrid_core::vocab::{GeoPoint, PhotoRef};
use firegrid_server::sync::handle;
use firegrid_server::sync::memory::MemoryStorage;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn phone(user: &User) -> Phone {
    common::device_from(&template().db, user)
}

fn sync(p: &Phone, server: &MemoryStorage) -> firegrid_core::sync::SyncReport {
    let who = p.who.clone();
    let mut transport =
        |bytes: Vec<u8>| handle(server, &who, &SyncRequest::decode(&bytes)?)?.encode();
    p.store.sync_via(&mut transport, &mut |_| {}).unwrap()
}

fn user_by(pred: impl Fn(&User) -> bool) -> &'static User {
    template().district.users.iter().find(|u| pred(u)).unwrap()
}

fn office(n: usize) -> &'static User {
    template()
        .district
        .users
        .iter()
        .filter(|u| u.role == Role::StreetOffice)
        .nth(n)
        .unwrap()
}

fn department(id: &str) -> &'static User {
    user_by(|u| u.role == Role::Department && u.scope.id == id)
}

/// A street shop, and the patroller of its grid.
fn shop() -> (&'static Premises, &'static User) {
    let shop = template()
        .district
        .premises
        .iter()
        .find(|p| p.category() == Category::StreetShop)
        .unwrap();
    let patroller = user_by(|u| u.role == Role::GridPatroller && u.scope.id == shop.grid);
    (shop, patroller)
}

fn photo(n: u8) -> PhotoRef {
    PhotoRef {
        sha256: format!("{n:02x}").repeat(32),
        captured_at_ms: None,
        location: None,
    }
}

fn photo_at(n: u8, lat: f64, lon: f64) -> PhotoRef {
    PhotoRef {
        location: Some(GeoPoint {
            lat,
            lon,
            accuracy_m: Some(5.0),
        }),
        ..photo(n)
    }
}

/// A hazard reported by the shop's patroller, synced to the server.
fn reported(server: &MemoryStorage, patroller: &Phone, premises: &str) -> String {
    let h = patroller
        .store
        .report_hazard(NewHazard {
            premises: premises.to_string(),
            description: "疏散通道堆放杂物".into(),
            severity: Severity::General,
            photos: vec![photo_at(1, 31.2500, 121.4000)],
            location: None,
        })
        .unwrap();
    sync(patroller, server);
    h.id
}

fn act(p: &Phone, id: &str, action: HazardAction) -> HazardCase {
    p.store
        .hazard_action(id, action)
        .unwrap_or_else(|e| panic!("{:?} failed: {e}", p.who.user.role))
}

fn file() -> HazardAction {
    HazardAction::File {
        deadline_ms: None,
        note: None,
    }
}

fn fix(n: u8) -> HazardAction {
    HazardAction::ReportFix {
        photos: vec![photo_at(n, 31.2501, 121.4001)],
        note: Some("已清理".into()),
    }
}

fn verify(n: u8) -> HazardAction {
    HazardAction::Verify {
        photos: vec![photo_at(n, 31.2501, 121.4001)],
        note: None,
    }
}

fn dispatch(depts: &[&str]) -> HazardAction {
    HazardAction::Dispatch {
        departments: depts.iter().map(|d| d.to_string()).collect(),
        note: None,
    }
}

fn handling(n: u8) -> HazardAction {
    HazardAction::ReportHandling {
        photos: vec![photo(n)],
        note: "已责令整改并复查".into(),
    }
}

#[test]
fn a_joint_action_runs_the_whole_loop_across_five_phones() {
    let server = template().server.fork();
    let (shop, patroller) = shop();
    let field = phone(patroller);
    let desk = phone(office(0));
    let checker = phone(office(1));
    let police = phone(department("dept.police"));
    let market = phone(department("dept.market"));

    let id = reported(&server, &field, &shop.id);
    sync(&desk, &server);
    let case = act(&desk, &id, file());
    assert_eq!(case.state.status, HazardStatus::Filed);
    assert_eq!(case.state.mode, Some(Rectification::ByDeadline));
    let deadline = case.state.deadline_ms.unwrap();
    let filed_at = case.hazard.events.last().unwrap().at_ms;
    assert_eq!(
        deadline,
        filed_at + 7 * DAY_MS,
        "general: 7 days by default"
    );
    act(&desk, &id, dispatch(&["dept.police", "dept.market"]));
    sync(&desk, &server);

    // A department not dispatched to may not report; the dispatched ones do.
    let housing = phone(department("dept.housing"));
    sync(&housing, &server);
    assert!(matches!(
        housing.store.hazard_action(&id, handling(3)),
        Err(Error::Forbidden(_))
    ));
    sync(&police, &server);
    let c = act(&police, &id, handling(4));
    assert_eq!(
        c.state.status,
        HazardStatus::Dispatched,
        "one of two reported"
    );
    sync(&police, &server);
    sync(&market, &server);
    let c = act(&market, &id, handling(5));
    assert_eq!(c.state.status, HazardStatus::Handled);
    sync(&market, &server);

    // The verifier is another office user; a failed check sends both departments back.
    sync(&checker, &server);
    act(
        &checker,
        &id,
        HazardAction::FailVerification {
            reason: "杂物仍堆放在楼梯口".into(),
            deadline_ms: Some(deadline + 3 * DAY_MS),
        },
    );
    sync(&checker, &server);
    for p in [&police, &market] {
        sync(p, &server);
        act(p, &id, handling(6));
        sync(p, &server);
    }
    sync(&checker, &server);
    act(&checker, &id, verify(7));
    act(&checker, &id, HazardAction::Close { note: None });
    sync(&checker, &server);

    let phones = [&field, &desk, &checker, &police, &market, &housing];
    for p in phones {
        sync(p, &server);
    }
    let reference = field.store.hazard_case(&id).unwrap();
    assert_eq!(reference.state.status, HazardStatus::Closed);
    assert_eq!(reference.state.failed_verifications, 1);
    assert_eq!(reference.hazard.events.len(), 10);
    assert!(
        reference.state.flags.is_empty(),
        "{:?}",
        reference.state.flags
    );
    for p in phones {
        let c = p.store.hazard_case(&id).unwrap();
        assert_eq!(c.state, reference.state, "{:?}", p.who.user.role);
        p.store.verify().unwrap();
    }
    let summary = &field.store.list_hazards(&shop.id).unwrap()[0];
    assert_eq!(summary.status, HazardStatus::Closed);
    assert_eq!(summary.departments, vec!["dept.market", "dept.police"]);
}

#[test]
fn each_role_may_take_its_own_steps_only() {
    let server = template().server.fork();
    let (shop, patroller) = shop();
    let field = phone(patroller);
    let desk = phone(office(0));
    let police = phone(department("dept.police"));
    let id = reported(&server, &field, &shop.id);
    sync(&desk, &server);
    sync(&police, &server);

    // Office steps are refused to field roles and departments, before anything is written.
    for p in [&field, &police] {
        for action in [
            file(),
            dispatch(&["dept.police"]),
            HazardAction::SetDeadline {
                deadline_ms: 2_000_000_000_000,
                note: None,
            },
            HazardAction::List {
                level: SupervisionLevel::Street,
                reason: "反复回潮".into(),
                target_ms: 2_000_000_000_000,
            },
        ] {
            assert!(
                matches!(p.store.hazard_action(&id, action), Err(Error::Forbidden(_))),
                "{:?}",
                p.who.user.role
            );
        }
    }
    // Departments neither fix on the spot nor reopen; the office does not handle as a department.
    assert!(matches!(
        police.store.hazard_action(&id, fix(2)),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        desk.store.hazard_action(&id, handling(2)),
        Err(Error::Forbidden(_))
    ));
    // A patroller of another grid may not touch the case.
    let other = user_by(|u| u.role == Role::GridPatroller && u.scope.id != shop.grid);
    let stranger = phone(other);
    assert!(matches!(
        stranger.store.hazard_action(&id, fix(2)),
        Err(Error::NotFound { .. } | Error::Forbidden(_))
    ));
    // Wrong state and missing evidence are refused with the fold's reason.
    match desk.store.hazard_action(&id, verify(2)) {
        Err(Error::HazardTransition { reason, status, .. }) => {
            assert_eq!(reason, "wrong_state");
            assert_eq!(status, "discovered");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        field.store.hazard_action(
            &id,
            HazardAction::ReportFix {
                photos: vec![],
                note: None
            }
        ),
        Err(Error::Invalid {
            field: "photos",
            ..
        })
    ));
    assert!(matches!(
        desk.store.hazard_action(&id, dispatch(&["dept.nowhere"])),
        Err(Error::NotFound { .. })
    ));
    // The fixer may not verify their own fix, even from the office.
    let c = act(&desk, &id, fix(3));
    assert_eq!(c.state.mode, Some(Rectification::OnTheSpot));
    assert!(matches!(
        desk.store.hazard_action(&id, verify(4)),
        Err(Error::Forbidden(_))
    ));
    // Nothing refused was written.
    assert_eq!(desk.store.hazard(&id).unwrap().events.len(), 2);
    assert_eq!(field.store.hazard(&id).unwrap().events.len(), 1);
}

/// One row of the decision table: two phones take concurrent steps from the same state.
struct Pair {
    name: &'static str,
    /// Steps taken (and synced) before the two phones go offline: (phone, action).
    setup: Vec<(usize, HazardAction)>,
    a: (usize, HazardAction),
    b: (usize, HazardAction),
    status: HazardStatus,
    /// Which of the two is flagged, and why (`None`: both apply).
    loser: Option<(char, FlagReason)>,
}

fn reopen() -> HazardAction {
    HazardAction::Reopen {
        reason: "复查时再次发现".into(),
    }
}

fn fail() -> HazardAction {
    HazardAction::FailVerification {
        reason: "未整改到位".into(),
        deadline_ms: None,
    }
}

fn close() -> HazardAction {
    HazardAction::Close { note: None }
}

fn list() -> HazardAction {
    HazardAction::List {
        level: SupervisionLevel::Street,
        reason: "整改难度大".into(),
        target_ms: 2_000_000_000_000,
    }
}

fn deadline(ms: i64) -> HazardAction {
    HazardAction::SetDeadline {
        deadline_ms: ms,
        note: None,
    }
}

// Phones: 0 patroller, 1 office A, 2 office B, 3 police, 4 market, 5 second patroller view
// (the same patroller on another phone).
const FIELD: usize = 0;
const OFFICE_A: usize = 1;
const OFFICE_B: usize = 2;
const POLICE: usize = 3;
const MARKET: usize = 4;

fn table() -> Vec<Pair> {
    use HazardStatus as S;
    let handled = || vec![(FIELD, fix(10))];
    let verified = || vec![(FIELD, fix(10)), (OFFICE_A, verify(11))];
    vec![
        Pair {
            name: "verified vs reopened: the case stays open",
            setup: handled(),
            a: (OFFICE_A, verify(20)),
            b: (FIELD, reopen()),
            status: S::Filed,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "verified vs verification failed: the failure wins",
            setup: handled(),
            a: (OFFICE_A, verify(20)),
            b: (OFFICE_B, fail()),
            status: S::Filed,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "verified twice: the second is a no-op",
            setup: handled(),
            a: (OFFICE_A, verify(20)),
            b: (OFFICE_B, verify(21)),
            status: S::Verified,
            loser: Some(('b', FlagReason::WrongState)),
        },
        Pair {
            name: "closed vs reopened: the case stays open",
            setup: verified(),
            a: (OFFICE_A, close()),
            b: (FIELD, reopen()),
            status: S::Filed,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "closed vs listed: both apply, the listing stays until delisted",
            setup: verified(),
            a: (OFFICE_A, close()),
            b: (OFFICE_B, list()),
            status: S::Closed,
            loser: None,
        },
        Pair {
            name: "filed vs fixed on the spot: the fix wins",
            setup: vec![],
            a: (OFFICE_A, file()),
            b: (FIELD, fix(20)),
            status: S::Handled,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "dispatched vs fixed: the fix wins",
            setup: vec![(OFFICE_A, file())],
            a: (OFFICE_A, dispatch(&["dept.police"])),
            b: (FIELD, fix(20)),
            status: S::Handled,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "two dispatches: the departments add up",
            setup: vec![(OFFICE_A, file())],
            a: (OFFICE_A, dispatch(&["dept.police"])),
            b: (OFFICE_B, dispatch(&["dept.market"])),
            status: S::Dispatched,
            loser: None,
        },
        Pair {
            name: "two departments report at once: handled",
            setup: vec![
                (OFFICE_A, file()),
                (OFFICE_A, dispatch(&["dept.police", "dept.market"])),
            ],
            a: (POLICE, handling(20)),
            b: (MARKET, handling(21)),
            status: S::Handled,
            loser: None,
        },
        Pair {
            name: "two deadline changes: the later one wins, the other is flagged",
            setup: vec![(OFFICE_A, file())],
            a: (OFFICE_A, deadline(2_000_000_000_000)),
            b: (OFFICE_B, deadline(2_100_000_000_000)),
            status: S::Filed,
            loser: Some(('?', FlagReason::Overridden)),
        },
        Pair {
            name: "filed twice: the second is a no-op",
            setup: vec![],
            a: (OFFICE_A, file()),
            b: (OFFICE_B, file()),
            status: S::Filed,
            loser: Some(('?', FlagReason::WrongState)),
        },
        Pair {
            name: "delisted vs reopened: the case stays open and listed",
            setup: vec![
                (OFFICE_A, list()),
                (FIELD, fix(10)),
                (OFFICE_A, verify(11)),
                (OFFICE_A, close()),
            ],
            a: (OFFICE_A, HazardAction::Delist { note: None }),
            b: (FIELD, reopen()),
            status: S::Filed,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "fix reported vs deadline changed: the fix wins",
            setup: vec![(OFFICE_A, file())],
            a: (OFFICE_A, deadline(2_000_000_000_000)),
            b: (FIELD, fix(20)),
            status: S::Handled,
            loser: Some(('a', FlagReason::WrongState)),
        },
        Pair {
            name: "two patrollers' phones report the fix: both kept as evidence",
            setup: vec![],
            a: (FIELD, fix(20)),
            b: (5, fix(21)),
            status: S::Handled,
            loser: None,
        },
    ]
}

#[test]
fn concurrent_steps_merge_by_the_decision_table_on_every_phone() {
    let (shop, patroller) = shop();
    for pair in table() {
        let server = template().server.fork();
        let phones = [
            phone(patroller),
            phone(office(0)),
            phone(office(1)),
            phone(department("dept.police")),
            phone(department("dept.market")),
            phone(patroller),
        ];
        let id = reported(&server, &phones[FIELD], &shop.id);
        for p in &phones {
            sync(p, &server);
        }
        for (who, action) in pair.setup {
            act(&phones[who], &id, action);
            sync(&phones[who], &server);
            for p in &phones {
                sync(p, &server);
            }
        }
        // Offline: both steps are valid on their own phone.
        let a = act(&phones[pair.a.0], &id, pair.a.1);
        let b = act(&phones[pair.b.0], &id, pair.b.1);
        let a_id = a.hazard.events.last().unwrap().id.clone();
        let b_id = b.hazard.events.last().unwrap().id.clone();
        // Back online, in both orders on different phones.
        sync(&phones[pair.a.0], &server);
        sync(&phones[pair.b.0], &server);
        for p in &phones {
            sync(p, &server);
        }
        let reference = phones[FIELD].store.hazard_case(&id).unwrap();
        for p in &phones {
            let c = p.store.hazard_case(&id).unwrap();
            assert_eq!(c.state, reference.state, "{}: replicas differ", pair.name);
        }
        let s = &reference.state;
        assert_eq!(s.status, pair.status, "{}", pair.name);
        // Both events are in the history on every phone, whatever won.
        let ids: Vec<&str> = reference
            .hazard
            .events
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert!(ids.contains(&a_id.as_str()) && ids.contains(&b_id.as_str()));
        match pair.loser {
            None => assert!(s.flags.is_empty(), "{}: {:?}", pair.name, s.flags),
            Some((which, reason)) => {
                let flagged: Vec<_> = s.flags.iter().filter(|f| f.reason == reason).collect();
                assert_eq!(flagged.len(), 1, "{}: {:?}", pair.name, s.flags);
                let f = flagged[0];
                match which {
                    'a' => assert_eq!(f.event, a_id, "{}", pair.name),
                    'b' => assert_eq!(f.event, b_id, "{}", pair.name),
                    _ => assert!(f.event == a_id || f.event == b_id, "{}", pair.name),
                }
                let winner = if f.event == a_id { &b_id } else { &a_id };
                assert!(
                    f.concurrent_with.contains(winner),
                    "{}: the flag names what it lost to: {f:?}",
                    pair.name
                );
                let row = &phones[OFFICE_A].store.list_hazards(&shop.id).unwrap()[0];
                assert_eq!(
                    row.flagged,
                    u32::from(reason.ignored()),
                    "{}: the list shows the flag",
                    pair.name
                );
            }
        }
    }
}

/// Appends `event` to the hazard's document as `phone`'s device would, bypassing the store's
/// checks, and pushes the change straight to the server.
fn forge(
    server: &MemoryStorage,
    phone: &Phone,
    id: &str,
    edit: impl FnOnce(&mut Vec<HazardEvent>),
) -> PushOutcome {
    let bytes = phone.store.document_bytes(id).unwrap();
    let mut doc = AutoCommit::load(&bytes).unwrap();
    let device = uuid::Uuid::parse_str(phone.store.device_id()).unwrap();
    let mut actor = device.as_bytes()[..8].to_vec();
    actor.extend_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    doc.set_actor(ActorId::from(actor));
    let mut h: firegrid_core::hazard::Hazard = autosurgeon::hydrate(&doc).unwrap();
    edit(&mut h.events);
    autosurgeon::reconcile(&mut doc, &h).unwrap();
    doc.commit();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let req = SyncRequest {
        epoch: None,
        cursor: 0,
        pushes: vec![DocChanges {
            doc: id.to_string(),
            kind: "hazard".into(),
            changes: vec![change],
        }],
        max_pull_bytes: 1024,
        held: vec![],
        record_format: firegrid_core::hydrate::RECORD_FORMAT,
    };
    let mut resp = handle(server, &phone.who, &req).unwrap();
    if resp.reset {
        let req = SyncRequest {
            epoch: Some(resp.epoch.clone()),
            ..req
        };
        resp = handle(server, &phone.who, &req).unwrap();
    }
    resp.acks.remove(0).outcome
}

fn event_like(phone: &Phone, events: &[HazardEvent], kind: HazardEventKind) -> HazardEvent {
    let u = &phone.who.user;
    HazardEvent {
        id: format!("ev.forged.{}", events.len()),
        kind,
        by: u.id.clone(),
        device: phone.store.device_id().to_string(),
        at_ms: 1,
        note: Some("x".into()),
        after: lifecycle::event_heads(events),
        role: Some(u.role),
        scope: Some(u.scope.clone()),
        photos: vec![photo(9)],
        departments: vec!["dept.police".into()],
        deadline_ms: Some(2_000_000_000_000),
        level: Some(SupervisionLevel::District),
    }
}

#[test]
fn the_server_refuses_events_their_author_may_not_make() {
    let server = template().server.fork();
    let (shop, patroller) = shop();
    let field = phone(patroller);
    let desk = phone(office(0));
    let id = reported(&server, &field, &shop.id);
    sync(&desk, &server);
    let refused = |o: PushOutcome| {
        assert!(
            matches!(
                o,
                PushOutcome::Refused {
                    reason: RefusalReason::Forbidden
                }
            ),
            "{o:?}"
        )
    };
    // A patroller filing the case (the role table), claiming to be the office, or as someone else.
    refused(forge(&server, &field, &id, |ev| {
        let e = event_like(&field, ev, HazardEventKind::Filed);
        ev.push(e);
    }));
    refused(forge(&server, &field, &id, |ev| {
        let mut e = event_like(&field, ev, HazardEventKind::Filed);
        e.role = Some(Role::StreetOffice);
        ev.push(e);
    }));
    refused(forge(&server, &field, &id, |ev| {
        let mut e = event_like(&field, ev, HazardEventKind::FixReported);
        e.by = office(0).id.clone();
        ev.push(e);
    }));
    // History is append-only: changing or removing a stored event is refused.
    refused(forge(&server, &field, &id, |ev| {
        ev[0].note = Some("rewritten".into());
    }));
    refused(forge(&server, &field, &id, |ev| {
        ev.clear();
    }));
    // The office verifying its own fix (the fold's self-verification rule, checked at sync).
    act(&desk, &id, fix(3));
    sync(&desk, &server);
    refused(forge(&server, &desk, &id, |ev| {
        let e = event_like(&desk, ev, HazardEventKind::Verified);
        ev.push(e);
    }));
    // A department not dispatched to.
    let housing = phone(department("dept.housing"));
    sync(&housing, &server);
    refused(forge(&server, &housing, &id, |ev| {
        let e = event_like(&housing, ev, HazardEventKind::Handled);
        ev.push(e);
    }));
    // A legitimate step through the same path is accepted.
    let checker = phone(office(1));
    sync(&checker, &server);
    let ok = forge(&server, &checker, &id, |ev| {
        let e = event_like(&checker, ev, HazardEventKind::Verified);
        ev.push(e);
    });
    assert!(matches!(ok, PushOutcome::Stored { .. }), "{ok:?}");
}

/// Inspects a premises, failing the items `fail` picks (by id); returns the hazards made.
fn failed_inspection(p: &Phone, premises: &str, fail: impl Fn(&str) -> bool) -> Vec<String> {
    let insp = p.store.start_inspection(premises, None).unwrap();
    let checklist = p
        .store
        .checklist(&insp.checklist, insp.checklist_version)
        .unwrap();
    for item in checklist.items_for(&p.store.premises(premises).unwrap()) {
        let result = if fail(&item.id) {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        p.store
            .answer(&insp.id, &item.id, result, Some("x".into()))
            .unwrap();
        if result == AnswerResult::Fail {
            p.store.attach_photo(&insp.id, &item.id, photo(5)).unwrap();
        }
    }
    p.store.finish_inspection(&insp.id, None).unwrap().hazards
}

#[test]
fn a_finding_after_a_close_recurs_and_repeated_recurrence_proposes_listing() {
    let server = template().server.fork();
    let (shop, patroller) = shop();
    let field = phone(patroller);
    let desk = phone(office(0));
    let first_item = field
        .store
        .current_checklist_for(&shop.id)
        .unwrap()
        .items_for(shop)
        .next()
        .unwrap()
        .id
        .clone();
    let mut previous: Option<String> = None;
    for round in 0..3u32 {
        let found = failed_inspection(&field, &shop.id, |i| i == first_item);
        assert_eq!(found.len(), 1);
        let id = found[0].clone();
        let case = field.store.hazard_case(&id).unwrap();
        assert_eq!(case.hazard.recurrence_of, previous, "round {round}");
        assert_eq!(case.hazard.recurrence, round);
        assert_eq!(case.proposes_listing, round >= 2, "round {round}");
        act(&field, &id, fix(10));
        sync(&field, &server);
        sync(&desk, &server);
        act(&desk, &id, verify(11));
        act(&desk, &id, close());
        sync(&desk, &server);
        sync(&field, &server);
        previous = Some(id);
    }
    let marks = desk
        .store
        .focus_premises(firegrid_core::vocab::now_ms())
        .unwrap();
    let mark = marks.iter().find(|m| m.premises == shop.id).unwrap();
    assert!(
        mark.reasons
            .contains(&firegrid_core::hazard::FocusReason::Recurring)
    );
    assert!(
        mark.reasons
            .contains(&firegrid_core::hazard::FocusReason::RepeatedHazards)
    );
    assert_eq!(mark.hazards_in_window, 3);
}

#[test]
fn reminders_list_overdue_and_due_cases_offline_for_each_role() {
    let server = template().server.fork();
    let (shop, patroller) = shop();
    let field = phone(patroller);
    let desk = phone(office(0));
    let police = phone(department("dept.police"));
    let now = firegrid_core::vocab::now_ms();
    let mut ids = Vec::new();
    for (n, due) in [
        (1, now - DAY_MS),
        (2, now + 60_000),
        (3, now + 3 * DAY_MS),
        (4, now + 30 * DAY_MS),
    ] {
        let id = reported(&server, &field, &shop.id);
        sync(&desk, &server);
        act(
            &desk,
            &id,
            HazardAction::File {
                deadline_ms: Some(due),
                note: Some(format!("case {n}")),
            },
        );
        ids.push(id);
    }
    act(&desk, &ids[0], dispatch(&["dept.police"]));
    sync(&desk, &server);
    sync(&field, &server);
    sync(&police, &server);
    // Shanghai time; "today" ends at local midnight, so the second case is due today unless
    // the test runs in the last minute of the day.
    let r = field.store.hazard_reminders(now, 480).unwrap();
    assert_eq!(
        r.overdue.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&ids[0]]
    );
    let soon: Vec<&String> = r
        .due_today
        .iter()
        .chain(&r.due_this_week)
        .map(|s| &s.id)
        .collect();
    assert_eq!(soon, vec![&ids[1], &ids[2]]);
    assert!(field.store.hazard_case(&ids[0]).unwrap().overdue);
    // The department sees only what is dispatched to it; the office sees all.
    let r = police.store.hazard_reminders(now, 480).unwrap();
    assert_eq!(r.overdue.len(), 1);
    let mine = police.store.my_hazards(None, None, None).unwrap();
    assert_eq!(
        mine.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&ids[0]]
    );
    let filed = desk
        .store
        .my_hazards(Some(HazardStatus::Filed), Some(10), None)
        .unwrap();
    assert_eq!(
        filed.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&ids[1], &ids[2], &ids[3]],
        "soonest deadline first"
    );
    assert!(r.due_today.is_empty() && r.due_this_week.is_empty());
    let r = desk.store.hazard_reminders(now, 480).unwrap();
    assert_eq!(
        r.overdue.len() + r.due_today.len() + r.due_this_week.len(),
        3
    );
    // A patroller of another grid sees none of them.
    let other = phone(user_by(|u| {
        u.role == Role::GridPatroller && u.scope.id != shop.grid
    }));
    sync(&other, &server);
    let r = other.store.hazard_reminders(now, 480).unwrap();
    assert!(r.overdue.is_empty() && r.due_today.is_empty() && r.due_this_week.is_empty());
    assert!(matches!(
        field.store.hazard_reminders(now, 100_000),
        Err(Error::Invalid { .. })
    ));
}

fn is_direct(standards: &[firegrid_core::standard::Standard], reference: &str) -> bool {
    let Some((v, code)) = reference.split_once(':') else {
        return false;
    };
    standards.iter().any(|s| {
        s.version == v
            && s.element(code)
                .is_some_and(|e| e.kind == firegrid_core::standard::ElementKind::Direct)
    })
}

#[test]
fn hazards_matching_gb35181_elements_are_flagged_suspected_major_never_declared() {
    let server = template().server.fork();
    let desk = phone(office(0));
    let standards = firegrid_core::standard::load_dir(&fixtures().join("standards")).unwrap();
    // A premises with an applicable checklist item on a direct element.
    let (premises, item) = template()
        .district
        .premises
        .iter()
        .find_map(|p| {
            let checklist = desk.store.current_checklist_for(&p.id).ok()?;
            let item = checklist
                .items_for(p)
                .find(|i| i.gb35181.iter().any(|r| is_direct(&standards, r)))?
                .id
                .clone();
            Some((p, item))
        })
        .expect("the fixtures have an item on a direct element");
    assert_eq!(desk.store.major_suspicion(&premises.id).unwrap(), None);
    let found = failed_inspection(&desk, &premises.id, |i| i == item);
    let case = desk.store.hazard_case(&found[0]).unwrap();
    let s = case.suspected_major.expect("suspected");
    assert!(!s.direct.is_empty());
    // It is a proposal: the case is an ordinary open case until the office decides.
    assert_eq!(case.state.status, HazardStatus::Discovered);
    assert_eq!(case.state.listing, None);
    assert!(case.proposes_district_listing);
    assert!(
        desk.store
            .focus_premises(firegrid_core::vocab::now_ms())
            .unwrap()
            .iter()
            .any(|m| m.premises == premises.id)
    );
    sync(&desk, &server);

    // Comprehensive elements count against the rule for the premises type.
    use firegrid_core::hazard::rules::suspect_major;
    let crowded = [firegrid_core::premises::Subtype::CrowdedPlace];
    let three = ["2017:7.3.1", "2017:7.3.2", "2017:7.3.3"];
    assert_eq!(
        suspect_major(&standards, &crowded, three)
            .unwrap()
            .threshold,
        Some(3)
    );
    assert!(suspect_major(&standards, &[], three).is_none());
    assert_eq!(
        suspect_major(&standards, &[], ["2017:6.2"]).unwrap().direct,
        vec!["6.2"]
    );
}
