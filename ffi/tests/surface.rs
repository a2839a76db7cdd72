//! The surface seen from Rust: the error mapping (every core failure an app acts on keeps its
//! fields), the closed sets mirrored both ways, and objects counted while alive. The foreign
//! languages' own tests are run by `scripts/foreign-tests`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use firegrid_core::Error as CoreError;
use firegrid_ffi::{
    FiregridError, FiregridStore, HazardAction, Role, SupervisionLevel, open_store_count,
};

#[test]
fn core_errors_map_to_the_variants_an_app_acts_on() {
    let map = FiregridError::from;
    assert!(matches!(
        map(CoreError::NoCurrentUser),
        FiregridError::NotSignedIn
    ));
    assert!(matches!(
        map(CoreError::invalid("note", "too long")),
        FiregridError::Invalid { field, reason } if field == "note" && reason == "too long"
    ));
    assert!(matches!(
        map(CoreError::not_found("premises", "prem.1")),
        FiregridError::NotFound { kind, id } if kind == "premises" && id == "prem.1"
    ));
    assert!(matches!(
        map(CoreError::IncompleteInspection {
            inspection_id: "insp.1".into(),
            unanswered: vec!["a".into()],
            missing_photos: vec!["b".into()],
        }),
        FiregridError::IncompleteInspection { unanswered, missing_photos, .. }
            if unanswered == ["a"] && missing_photos == ["b"]
    ));
    assert!(matches!(
        map(CoreError::HazardTransition {
            hazard_id: "hz.1".into(),
            action: "closed".into(),
            status: "filed".into(),
            reason: "wrong_state".into(),
        }),
        FiregridError::HazardTransition { action, status, reason, .. }
            if action == "closed" && status == "filed" && reason == "wrong_state"
    ));
    assert!(matches!(
        map(CoreError::StorageFull),
        FiregridError::StorageFull
    ));
    assert!(matches!(
        map(CoreError::UnsyncedChanges {
            records: 3,
            photos: 2
        }),
        FiregridError::UnsyncedChanges {
            records: 3,
            photos: 2
        }
    ));
    assert!(matches!(
        map(CoreError::AlreadySyncing),
        FiregridError::AlreadySyncing
    ));
    assert!(matches!(
        map(CoreError::Network("down".into())),
        FiregridError::Network { .. }
    ));
    assert!(matches!(
        map(CoreError::Unauthorized("expired".into())),
        FiregridError::Unauthorized { detail } if detail == "expired"
    ));
    assert!(matches!(
        map(CoreError::RateLimited { retry_after_s: 17 }),
        FiregridError::ServerBusy { retry_after_s: 17 }
    ));
    assert!(matches!(
        map(CoreError::DatabaseTooNew {
            found: 9,
            supported: 3
        }),
        FiregridError::StoreTooNew {
            found: 9,
            supported: 3
        }
    ));
    assert!(matches!(
        map(CoreError::corrupt("hz.1", "bad")),
        FiregridError::Corrupt { .. }
    ));
    assert!(matches!(
        map(CoreError::UnknownItem { inspection_id: "i".into(), item_id: "x".into() }),
        FiregridError::Invalid { field, .. } if field == "item_id"
    ));
}

#[test]
fn closed_sets_and_actions_cross_both_ways() {
    for r in firegrid_core::access::Role::ALL {
        assert_eq!(firegrid_core::access::Role::from(Role::from(*r)), *r);
    }
    let action: firegrid_core::hazard::HazardAction = HazardAction::ListForSupervision {
        level: SupervisionLevel::District,
        reason: "r".into(),
        target_ms: 5,
    }
    .into();
    assert_eq!(
        action.kind(),
        firegrid_core::hazard::HazardEventKind::Listed
    );
}

#[test]
fn stores_are_counted_while_alive_and_errors_come_back_typed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("firegrid.db")
        .to_string_lossy()
        .into_owned();
    let before = open_store_count();
    let store = FiregridStore::open(path).unwrap();
    assert_eq!(open_store_count(), before + 1);
    assert_eq!(store.device_id().len(), 32);
    assert!(matches!(
        store.premises("not an id".into()),
        Err(FiregridError::Invalid { field, .. }) if field == "premises_id"
    ));
    assert!(matches!(store.current_user(), Ok(None)));
    drop(store);
    assert_eq!(open_store_count(), before);
}
