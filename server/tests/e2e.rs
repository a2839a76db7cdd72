//! End to end over real sockets: the server binary's code (`serve`) on 127.0.0.1 with its
//! embedded SQLite store, two phones' stores syncing through the reqwest client: one records an
//! inspection with a failed item and a photo, the other sees the hazard.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::path::{Path, PathBuf};

use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::sync::http::{HttpClient, RetryPolicy, sync_with_retry};
use firegrid_core::{Error, Store};
use firegrid_server::admin;

const PW: &str = "zhenru-e2e-password";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Starts the server on a free port in a background runtime; returns its base URL.
fn start_server(dir: &Path, users: &[&str]) -> String {
    let data = admin::open(dir).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    for u in users {
        data.accounts.set_password(u, PW, 0).unwrap();
    }
    firegrid_server::serve::spawn_local(data).unwrap()
}

fn phone(dir: &Path) -> Store {
    let store = Store::open(dir.join("phone.db")).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store
}

#[test]
fn an_inspection_on_one_phone_reaches_the_office_through_the_real_server() {
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let patroller = district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap();
    let office = district
        .users
        .iter()
        .find(|u| u.role == Role::StreetOffice)
        .unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    let url = start_server(server_dir.path(), &[&patroller.id, &office.id]);
    let client = HttpClient::new(&url).unwrap();

    let dir_a = tempfile::tempdir().unwrap();
    let a = phone(dir_a.path());
    a.set_current_user(&patroller.id).unwrap();
    assert!(matches!(
        client.login(&patroller.id, "wrong password", a.device_id()),
        Err(Error::Unauthorized(_))
    ));
    let login_a = client.login(&patroller.id, PW, a.device_id()).unwrap();
    assert_eq!(login_a.user.scope, patroller.scope);

    let shop = district
        .premises
        .iter()
        .find(|p| p.grid == patroller.scope.id && p.category() == Category::StreetShop)
        .unwrap();
    let insp = a.start_inspection(&shop.id, None).unwrap();
    let checklist = a
        .checklist(&insp.checklist, insp.checklist_version)
        .unwrap();
    let failed = insp
        .items
        .iter()
        .find(|i| checklist.item(i).unwrap().photo_required_on_fail)
        .unwrap()
        .clone();
    for item in &insp.items {
        a.answer(
            &insp.id,
            item,
            if *item == failed {
                AnswerResult::Fail
            } else {
                AnswerResult::Pass
            },
            None,
        )
        .unwrap();
    }
    a.attach_photo(
        &insp.id,
        &failed,
        firegrid_core::vocab::PhotoRef {
            sha256: "ef".repeat(32),
            captured_at_ms: None,
            location: None,
        },
    )
    .unwrap();
    let hazards = a.finish_inspection(&insp.id, None).unwrap().hazards;

    let mut rounds = Vec::new();
    let report = a
        .sync_http(&client, &login_a.session.access_token, &mut |p| {
            rounds.push(p)
        })
        .unwrap();
    assert_eq!(report.acknowledged, 2);
    assert_eq!(rounds.len() as u32, report.rounds);
    assert_eq!(a.unsynced_count().unwrap(), 0);

    let dir_b = tempfile::tempdir().unwrap();
    let b = phone(dir_b.path());
    b.set_current_user(&office.id).unwrap();
    let login_b = client.login(&office.id, PW, b.device_id()).unwrap();
    let report = sync_with_retry(
        RetryPolicy::default(),
        || b.sync_http(&client, &login_b.session.access_token, &mut |_| {}),
        |_| {},
    )
    .unwrap();
    assert_eq!(report.touched, 2);
    let hz = b.hazard(&hazards[0]).unwrap();
    assert_eq!(hz.origin.item.as_deref(), Some(failed.as_str()));
    assert_eq!(hz.photos.len(), 1);

    // A refresh covers a long offline stretch; the old refresh token then stops working.
    let fresh = client.refresh(&login_a.session.refresh_token).unwrap();
    assert!(
        a.sync_http(&client, &fresh.access_token, &mut |_| {})
            .is_ok()
    );
    assert!(matches!(
        client.refresh(&login_a.session.refresh_token),
        Err(Error::Unauthorized(_))
    ));
    // A bad token is a typed error, not a panic.
    assert!(matches!(
        a.sync_http(&client, &"0".repeat(64), &mut |_| {}),
        Err(Error::Unauthorized(_))
    ));
    // A server that cannot be reached is a network error, retried and then reported.
    let nowhere = HttpClient::new("http://127.0.0.1:9").unwrap();
    let mut sleeps = 0;
    let r = sync_with_retry(
        RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        },
        || a.sync_http(&nowhere, "t", &mut |_| {}),
        |_| sleeps += 1,
    );
    assert!(matches!(r, Err(Error::Network(_))));
    assert_eq!(sleeps, 2);
}
