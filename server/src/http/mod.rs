//! The HTTP face of the sync server (axum): routes, authentication of every request, limits,
//! and one error type that becomes a JSON body. Handlers only decode, check who is asking, call
//! the sans-I/O engine (`crate::sync::handle`) on a blocking thread, and encode.
//!
//! Routes: `GET /healthz`, `POST /v1/login`, `POST /v1/refresh`, `POST /v1/logout`,
//! `POST /v1/sync` (binary, `application/octet-stream`), `GET /v1/docs/{id}` (the automerge
//! document bytes, authorized like sync), `GET /v1/ledger.xlsx` and `GET /v1/ledger.csv` (the
//! hazard ledger, street office and administrators only; see `crate::ledger`),
//! `HEAD`/`PUT`/`GET /v1/blobs/{sha256}` (evidence photos; see `crate::blobs`),
//! `GET /openapi.json`.

mod limits;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use firegrid_core::access::User;
use firegrid_core::store::RecordKind;
use firegrid_core::sync::protocol::{MAX_MESSAGE_BYTES, SyncRequest};
use serde::{Deserialize, Serialize};

pub use limits::{BLOB_REQUESTS_PER_MINUTE, RateLimiter};

use crate::auth::{Accounts, AuthError};
use crate::ledger::{self, LedgerError, LedgerQuery};
use crate::sync::{Principal, SyncStorage, handle, may_read};

/// Requests per token per minute on `/v1/sync` and `/v1/docs`.
pub const REQUESTS_PER_MINUTE: u32 = 120;
/// Login attempts per user id per minute.
pub const LOGINS_PER_MINUTE: u32 = 10;
/// Largest JSON body (login, refresh).
const MAX_JSON_BYTES: usize = 16 * 1024;

/// What every handler shares.
pub struct AppState {
    /// The sync data.
    pub storage: Arc<dyn SyncStorage>,
    /// Credentials, devices, tokens.
    pub accounts: Arc<Accounts>,
    /// Per-device request limit of sync and document reads.
    pub requests: RateLimiter,
    /// Per-device request limit of the blob routes, apart from `requests`.
    pub blob_requests: RateLimiter,
    /// Per-user login limit.
    pub logins: RateLimiter,
    /// The server's clock in ms (the trusted clock; replaceable in tests).
    pub now_ms: fn() -> i64,
    /// Evidence-photo blobs (`/v1/blobs`); `None`: those routes answer 404.
    pub blobs: Option<Arc<crate::blobs::BlobStore>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// State with the default limits and the system clock.
    pub fn new(storage: Arc<dyn SyncStorage>, accounts: Arc<Accounts>) -> AppState {
        AppState {
            storage,
            accounts,
            requests: RateLimiter::per_minute(REQUESTS_PER_MINUTE),
            blob_requests: RateLimiter::per_minute(BLOB_REQUESTS_PER_MINUTE),
            logins: RateLimiter::per_minute(LOGINS_PER_MINUTE),
            now_ms: firegrid_core::vocab::now_ms,
            blobs: None,
        }
    }
}

/// Every failure a route can answer with; becomes a status and `{"error": code, "message": …}`.
#[derive(Debug)]
pub enum AppError {
    /// 400
    BadRequest(String),
    /// 401: no, bad, expired or revoked credentials.
    Unauthorized(&'static str),
    /// 403
    Forbidden(&'static str),
    /// 404 (also for documents the caller may not see: ids tell nothing).
    NotFound,
    /// 413
    TooLarge,
    /// 429 with Retry-After seconds.
    TooManyRequests(u64),
    /// 500: logged, never detailed to the client.
    Internal(String),
    /// 503 with Retry-After: the database is unreachable or busy (nothing was committed).
    Unavailable(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            AppError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.to_string()),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.to_string()),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such document".to_string(),
            ),
            AppError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("bodies are at most {MAX_MESSAGE_BYTES} bytes"),
            ),
            AppError::TooManyRequests(secs) => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ErrorBody {
                        error: "rate_limited",
                        message: format!("retry after {secs} s"),
                    }),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
            AppError::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                let mut r = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody {
                        error: "unavailable",
                        message: "the database is unavailable; retry later".to_string(),
                    }),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return r;
            }
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_string(),
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: code,
                message,
            }),
        )
            .into_response()
    }
}

impl From<firegrid_core::Error> for AppError {
    fn from(e: firegrid_core::Error) -> Self {
        match e {
            firegrid_core::Error::Invalid { .. } => AppError::BadRequest(e.to_string()),
            firegrid_core::Error::Backend(m) => AppError::Unavailable(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadCredentials => AppError::Unauthorized("unknown user or wrong password"),
            AuthError::Disabled => AppError::Forbidden("the account is disabled"),
            AuthError::DeviceRevoked => AppError::Forbidden("this device has been revoked"),
            AuthError::InvalidToken => AppError::Unauthorized("invalid token"),
            AuthError::Expired => AppError::Unauthorized("token expired"),
            AuthError::Invalid(what) => AppError::BadRequest(format!("invalid {what}")),
            AuthError::Storage(m) => AppError::Internal(m),
        }
    }
}

fn body_error(e: BytesRejection) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest(e.body_text())
    }
}

fn json_error(e: JsonRejection) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest(e.body_text())
    }
}

/// Runs blocking work (SQLite, argon2, automerge) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// The user record of `user_id` as the server holds it now.
fn current_user(storage: &dyn SyncStorage, user_id: &str) -> Result<User, AppError> {
    let stored = storage
        .load_doc(user_id)?
        .filter(|d| d.kind == RecordKind::User);
    let Some(stored) = stored else {
        return Err(AppError::Forbidden("no user record for this account"));
    };
    let doc = stored.to_automerge(user_id)?;
    autosurgeon::hydrate(&doc).map_err(|e| AppError::Internal(e.to_string()))
}

/// Checks the bearer token, the account, the device and the rate limit; returns who asks.
pub(crate) fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, String), AppError> {
    principal_within(state, headers, &state.requests)
}

/// [`principal`], counting the request against `budget` (the blob routes have their own).
pub(crate) fn principal_within(
    state: &AppState,
    headers: &HeaderMap,
    budget: &RateLimiter,
) -> Result<(Principal, String), AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized("missing bearer token"))?
        .trim()
        .to_string();
    let who = state
        .accounts
        .authenticate(&token, (state.now_ms)())
        .inspect_err(|e| {
            tracing::warn!(reason = %e, "authentication failed");
        })?;
    if let Err(retry) = budget.check(&who.device_id) {
        return Err(AppError::TooManyRequests(retry));
    }
    let user = current_user(state.storage.as_ref(), &who.user_id)?;
    Ok((
        Principal {
            user,
            device_id: who.device_id,
        },
        token,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user_id: String,
    password: String,
    device_id: String,
}

#[derive(Debug, Serialize)]
struct LoginReply {
    #[serde(flatten)]
    session: crate::auth::Session,
    user: User,
}

async fn login(
    State(state): State<Arc<AppState>>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<LoginReply>, AppError> {
    let Json(body) = body.map_err(json_error)?;
    firegrid_core::vocab::validate_id("user_id", &body.user_id)?;
    if body.password.len() > 1024 {
        return Err(AppError::BadRequest("password too long".into()));
    }
    if let Err(retry) = state.logins.check(&body.user_id) {
        return Err(AppError::TooManyRequests(retry));
    }
    blocking(move || {
        let session = state
            .accounts
            .login(
                &body.user_id,
                &body.password,
                &body.device_id,
                (state.now_ms)(),
            )
            .inspect_err(|e| {
                tracing::warn!(user = %body.user_id, reason = %e, "login refused");
            })?;
        let user = current_user(state.storage.as_ref(), &session.user_id)?;
        tracing::info!(user = %session.user_id, device = %session.device_id, "login");
        Ok(Json(LoginReply { session, user }))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> Result<Json<crate::auth::Session>, AppError> {
    let Json(body) = body.map_err(json_error)?;
    blocking(move || {
        Ok(Json(
            state
                .accounts
                .refresh(&body.refresh_token, (state.now_ms)())?,
        ))
    })
    .await
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    blocking(move || {
        let (_, token) = principal(&state, &headers)?;
        state.accounts.logout(&token, (state.now_ms)())?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn sync(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let body = body.map_err(body_error)?;
    blocking(move || {
        let (who, _) = principal(&state, &headers)?;
        let (request, version) = SyncRequest::decode_versioned(&body)?;
        let response = handle(state.storage.as_ref(), &who, &request)?;
        let refused = response.acks.iter().filter(|a| matches!(a.outcome, firegrid_core::sync::protocol::PushOutcome::Refused { .. })).count();
        if refused > 0 {
            tracing::warn!(user = %who.user.id, device = %who.device_id, refused, "sync pushes refused");
        }
        let bytes = response.encode_version(version)?;
        Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
    })
    .await
}

async fn document(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    blocking(move || {
        let (who, _) = principal(&state, &headers)?;
        if firegrid_core::vocab::validate_id("id", &id).is_err() {
            return Err(AppError::NotFound);
        }
        let storage = state.storage.as_ref();
        let Some(stored) = storage.load_doc(&id)? else {
            return Err(AppError::NotFound);
        };
        // Visible as it is to a pull: by the scope on its row.
        if !may_read(storage, &who.user, &stored.scope)? {
            return Err(AppError::NotFound);
        }
        let mut doc = stored.to_automerge(&id)?;
        Ok((
            [(header::CONTENT_TYPE, "application/octet-stream")],
            doc.save(),
        )
            .into_response())
    })
    .await
}

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Invalid { .. } | LedgerError::TooLarge { .. } => {
                AppError::BadRequest(e.to_string())
            }
            LedgerError::Data(e) => AppError::from(e),
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// The hazard ledger as a file: the bearer's user must be the street office or an
/// administrator; the query's filters are checked after that (see `crate::ledger`).
async fn ledger_file(
    state: Arc<AppState>,
    headers: HeaderMap,
    query: Result<Query<LedgerQuery>, QueryRejection>,
    format: ledger::Format,
) -> Result<Response, AppError> {
    blocking(move || {
        let (who, _) = principal(&state, &headers)?;
        if !ledger::may_export(who.user.role) {
            return Err(AppError::Forbidden(
                "only the street office and administrators export the ledger",
            ));
        }
        let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
        let export = ledger::export(
            state.storage.as_ref(),
            &who.user,
            &query,
            format,
            (state.now_ms)(),
        )?;
        tracing::info!(user = %who.user.id, cases = export.cases, events = export.events, "ledger exported");
        let disposition = format!("attachment; filename=\"{}\"", export.file_name);
        Ok((
            [
                (header::CONTENT_TYPE, export.content_type.to_string()),
                (header::CONTENT_DISPOSITION, disposition),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            export.bytes,
        )
            .into_response())
    })
    .await
}

async fn ledger_xlsx(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    ledger_file(state, headers, query, ledger::Format::Xlsx).await
}

async fn ledger_csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    ledger_file(state, headers, query, ledger::Format::Csv).await
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// The router with every route, limit and the shared state.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route(
            "/v1/login",
            post(login).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)),
        )
        .route(
            "/v1/refresh",
            post(refresh).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)),
        )
        .route("/v1/logout", post(logout))
        .route(
            "/v1/sync",
            post(sync).layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES)),
        )
        .route("/v1/docs/{id}", get(document))
        .route("/v1/ledger.xlsx", get(ledger_xlsx))
        .route("/v1/ledger.csv", get(ledger_csv))
        .merge(crate::blobs::routes::routes())
        .fallback(not_found)
        .with_state(state)
}
