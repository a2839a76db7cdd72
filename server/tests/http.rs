//! The HTTP routes in process (`tower::ServiceExt::oneshot`): authentication on every route,
//! JSON errors for bad input, limits, the binary sync round trip from a real device store, and
//! document export authorized like sync.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use firegrid_core::Store;
use firegrid_core::access::{Role, User};
use firegrid_core::district::District;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::store::RecordKind;
use firegrid_core::sync::protocol::{SyncRequest, SyncResponse};
use firegrid_server::auth::Accounts;
use firegrid_server::http::{AppState, app};
use firegrid_server::sync::memory::MemoryStorage;
use http_body_util::BodyExt;
use tower::ServiceExt;

const PW: &str = "zhenru-test-password";

struct Seed {
    records: Vec<(String, RecordKind, Vec<u8>)>,
    district: District,
}

fn seed() -> &'static Seed {
    static S: OnceLock<Seed> = OnceLock::new();
    S.get_or_init(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        store.import_fixtures(&fixtures).unwrap();
        let mut records = store.export_records().unwrap();
        records.sort_by_key(|(_, k, _)| *k != RecordKind::Premises);
        Seed {
            records,
            district: firegrid_core::district::load_dir(&fixtures.join("district")).unwrap(),
        }
    })
}

struct Server {
    _dir: tempfile::TempDir,
    state: Arc<AppState>,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let storage = MemoryStorage::new();
    for (id, kind, bytes) in &seed().records {
        storage.seed_document(id, *kind, bytes).unwrap();
    }
    let accounts = Accounts::open(&dir.path().join("accounts.db")).unwrap();
    // Passwords of the users the tests log in as (argon2 is slow on purpose).
    for role in [Role::GridPatroller, Role::StreetOffice] {
        for u in seed()
            .district
            .users
            .iter()
            .filter(|u| u.role == role)
            .take(2)
        {
            accounts.set_password(&u.id, PW, 0).unwrap();
        }
    }
    let state = Arc::new(AppState::new(Arc::new(storage), Arc::new(accounts)));
    Server { _dir: dir, state }
}

fn user(role: Role) -> &'static User {
    seed()
        .district
        .users
        .iter()
        .find(|u| u.role == role)
        .unwrap()
}

async fn call(s: &Server, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app(s.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn json(method: &str, uri: &str, body: serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn bearer(method: &str, uri: &str, token: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(body))
        .unwrap()
}

fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("errors are JSON");
    v["error"].as_str().unwrap().to_string()
}

async fn login(s: &Server, user: &User, device: &str) -> String {
    let (status, _, body) = call(
        s,
        json(
            "POST",
            "/v1/login",
            serde_json::json!({"user_id": user.id, "password": PW, "device_id": device}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["user"]["role"], user.role.as_str());
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn health_openapi_and_unknown_routes() {
    let s = server();
    let (status, _, body) = call(&s, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, _, body) = call(
        &s,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let spec: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for path in [
        "/v1/login",
        "/v1/refresh",
        "/v1/logout",
        "/v1/sync",
        "/v1/docs/{id}",
        "/healthz",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is described");
    }
    let (status, _, body) =
        call(&s, Request::get("/v1/nothing").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test]
async fn login_refuses_bad_credentials_and_bad_bodies_with_json_errors() {
    let s = server();
    let u = user(Role::GridPatroller);
    let dev = uuid::Uuid::new_v4().simple().to_string();
    let cases = [
        (
            serde_json::json!({"user_id": u.id, "password": "wrong password", "device_id": dev}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            serde_json::json!({"user_id": "u.nobody", "password": PW, "device_id": dev}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            serde_json::json!({"user_id": u.id, "password": PW, "device_id": "phone"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"user_id": u.id, "password": PW}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"user_id": "a b", "password": PW, "device_id": dev}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"user_id": u.id, "password": "x".repeat(20_000), "device_id": dev}),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, expected) in cases {
        let (status, _, resp) = call(&s, json("POST", "/v1/login", body.clone())).await;
        assert_eq!(status, expected, "{body}");
        error_code(&resp);
    }
    let (status, _, resp) = call(
        &s,
        Request::post("/v1/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    error_code(&resp);
}

#[tokio::test]
async fn every_data_route_needs_a_valid_token() {
    let s = server();
    for (method, uri) in [
        ("POST", "/v1/sync"),
        ("GET", "/v1/docs/prem.0001"),
        ("POST", "/v1/logout"),
    ] {
        let (status, _, body) = call(
            &s,
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} without a token");
        assert_eq!(error_code(&body), "unauthorized");
        let (status, _, _) = call(&s, bearer(method, uri, &"0".repeat(64), vec![])).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{uri} with a made-up token"
        );
    }
}

#[tokio::test]
async fn a_device_syncs_over_http_and_documents_are_scoped() {
    let s = server();
    let patroller = user(Role::GridPatroller);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d.db")).unwrap();
    store
        .import_fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures"))
        .unwrap();
    store.set_current_user(&patroller.id).unwrap();
    let token = login(&s, patroller, store.device_id()).await;

    let shop = seed()
        .district
        .premises
        .iter()
        .find(|p| p.grid == patroller.scope.id && p.category() == Category::StreetShop)
        .unwrap();
    let insp = store.start_inspection(&shop.id, None).unwrap();
    for item in &insp.items {
        store
            .answer(&insp.id, item, AnswerResult::Pass, None)
            .unwrap();
    }
    store.finish_inspection(&insp.id, None).unwrap();

    let (request, pending) = store.sync_request(1 << 20).unwrap();
    assert_eq!(request.pushes.len(), 1);
    let (status, headers, body) = call(
        &s,
        bearer("POST", "/v1/sync", &token, request.encode().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    let response = SyncResponse::decode(&body).unwrap();
    store.apply_sync_response(&pending, &response).unwrap();
    assert_eq!(store.unsynced_count().unwrap(), 0);

    // The document as the server holds it, for export.
    let (status, _, bytes) = call(
        &s,
        bearer("GET", &format!("/v1/docs/{}", insp.id), &token, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(automerge::AutoCommit::load(&bytes).is_ok());
    // Another grid's patroller: the same 404 as for an id that does not exist.
    let other = seed()
        .district
        .users
        .iter()
        .filter(|u| u.role == Role::GridPatroller)
        .nth(1)
        .unwrap();
    assert_ne!(other.scope, patroller.scope);
    let other_dev = uuid::Uuid::new_v4().simple().to_string();
    let other_token = login(&s, other, &other_dev).await;
    let (status, _, body_forbidden) = call(
        &s,
        bearer(
            "GET",
            &format!("/v1/docs/{}", insp.id),
            &other_token,
            vec![],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body_missing) = call(
        &s,
        bearer("GET", "/v1/docs/insp.doesnotexist", &other_token, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body_forbidden, body_missing, "a guessed id tells nothing");

    // Malformed and oversized sync bodies.
    for bad in [vec![], b"FGS\x01\x00garbage".to_vec(), b"hello".to_vec()] {
        let (status, _, body) = call(&s, bearer("POST", "/v1/sync", &token, bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        error_code(&body);
    }
    let (status, _, body) = call(
        &s,
        bearer("POST", "/v1/sync", &token, vec![0; 5 * 1024 * 1024]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "too_large");

    // Phones not yet updated speak protocol 2 or 3: each is answered in its own.
    let v4 = SyncRequest {
        epoch: None,
        cursor: 0,
        pushes: vec![],
        max_pull_bytes: 1024,
        held: vec![],
        record_format: 0,
    }
    .encode()
    .unwrap();
    // `held` (empty) and `record_format` (0) are the last two bytes.
    assert_eq!(
        (&v4[..5], &v4[v4.len() - 2..]),
        (&b"FGS\x04\x00"[..], &[0u8, 0][..])
    );
    let v3 = [&b"FGS\x03\x00"[..], &v4[5..v4.len() - 1]].concat();
    let v2 = [&b"FGS\x02\x00"[..], &v4[5..v4.len() - 2]].concat();
    for (old, version) in [(v3, b"FGS\x03\x00"), (v2, b"FGS\x02\x00")] {
        let (status, _, body) = call(&s, bearer("POST", "/v1/sync", &token, old)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..5], version);
    }
    // Too many held documents named.
    let too_many = SyncRequest {
        epoch: None,
        cursor: 0,
        pushes: vec![],
        max_pull_bytes: 1024,
        held: vec![[7; 16]; firegrid_core::sync::protocol::MAX_HELD + 1],
        record_format: firegrid_core::hydrate::RECORD_FORMAT,
    }
    .encode()
    .unwrap();
    let (status, _, body) = call(&s, bearer("POST", "/v1/sync", &token, too_many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    error_code(&body);

    // Disabling the account takes effect at the next request; so does revoking the device.
    s.state.accounts.set_disabled(&patroller.id, true).unwrap();
    let empty = SyncRequest {
        epoch: None,
        cursor: 0,
        pushes: vec![],
        max_pull_bytes: 1024,
        held: vec![],
        record_format: firegrid_core::hydrate::RECORD_FORMAT,
    }
    .encode()
    .unwrap();
    let (status, _, _) = call(&s, bearer("POST", "/v1/sync", &token, empty.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    s.state.accounts.revoke_device(&other_dev, 1).unwrap();
    let (status, _, _) = call(&s, bearer("POST", "/v1/sync", &other_token, empty)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn too_many_requests_get_429_with_retry_after() {
    let s = server();
    let u = user(Role::StreetOffice);
    let dev = uuid::Uuid::new_v4().simple().to_string();
    let token = login(&s, u, &dev).await;
    let empty = SyncRequest {
        epoch: None,
        cursor: u64::MAX,
        pushes: vec![],
        max_pull_bytes: 1024,
        held: vec![],
        record_format: firegrid_core::hydrate::RECORD_FORMAT,
    }
    .encode()
    .unwrap();
    let mut limited = None;
    for _ in 0..(firegrid_server::http::REQUESTS_PER_MINUTE + 1) {
        let (status, headers, body) =
            call(&s, bearer("POST", "/v1/sync", &token, empty.clone())).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    let (headers, body) = limited.expect("the limit is reached");
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(error_code(&body), "rate_limited");
}
