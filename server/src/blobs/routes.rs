//! The HTTP adapter of the blob store: `HEAD`, `PUT` and `GET /v1/blobs/{sha256}` (semantics in
//! the [module documentation](super)). Decodes, authenticates like every other route, runs the
//! store on a blocking thread and encodes; the rules live in [`super::BlobStore`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{BlobState, BlobStore, MAX_BLOB_BYTES, MAX_CHUNK_BYTES, PutOutcome};
use crate::http::{AppError, AppState, blocking, principal_within};

/// The offset header of resumable uploads (as in tus and the IETF resumable-upload draft).
pub(crate) const UPLOAD_OFFSET: &str = "upload-offset";

/// A blob route's failure: the shared [`AppError`] or one of the upload answers.
#[derive(Debug)]
pub(crate) enum BlobError {
    App(AppError),
    /// 409: resume at this offset.
    WrongOffset(u64),
    /// 422: the bytes did not hash to the name.
    HashMismatch,
    /// 507: the quota.
    QuotaExceeded {
        used: u64,
        quota: u64,
    },
    /// 507: too many uploads in progress.
    TooManyUploads,
    /// 413: chunk or declared total too large.
    TooLarge(String),
    /// 415: a thumbnail was asked of a blob that is not a decodable image.
    NoThumbnail,
}

impl From<AppError> for BlobError {
    fn from(e: AppError) -> Self {
        BlobError::App(e)
    }
}

impl From<firegrid_core::Error> for BlobError {
    fn from(e: firegrid_core::Error) -> Self {
        BlobError::App(AppError::from(e))
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for BlobError {
    fn into_response(self) -> Response {
        match self {
            BlobError::App(e) => e.into_response(),
            BlobError::WrongOffset(offset) => {
                let mut r = json(
                    StatusCode::CONFLICT,
                    serde_json::json!({
                        "error": "offset_mismatch",
                        "message": format!("the upload is at offset {offset}; resume there"),
                        "offset": offset,
                    }),
                );
                r.headers_mut()
                    .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
                r
            }
            BlobError::HashMismatch => json(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({
                    "error": "hash_mismatch",
                    "message": "the uploaded bytes do not hash to the name; the upload was discarded, start again at offset 0",
                }),
            ),
            BlobError::QuotaExceeded { used, quota } => json(
                StatusCode::INSUFFICIENT_STORAGE,
                serde_json::json!({
                    "error": "quota_exceeded",
                    "message": format!("this upload would exceed the quota of {quota} bytes ({used} in use)"),
                    "used": used,
                    "quota": quota,
                }),
            ),
            BlobError::TooManyUploads => json(
                StatusCode::INSUFFICIENT_STORAGE,
                serde_json::json!({
                    "error": "too_many_uploads",
                    "message": format!("at most {} uploads may be in progress at once", super::MAX_UPLOADS_IN_PROGRESS),
                }),
            ),
            BlobError::NoThumbnail => json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                serde_json::json!({
                    "error": "no_thumbnail",
                    "message": "this blob is not an image a thumbnail can be made of; GET it without variant",
                }),
            ),
            BlobError::TooLarge(message) => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({ "error": "too_large", "message": message }),
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlobQuery {
    doc: String,
    offset: Option<u64>,
    total: Option<u64>,
    /// `thumb`: the thumbnail instead of the blob (GET only).
    variant: Option<String>,
}

type Q = Result<Query<BlobQuery>, QueryRejection>;

fn query(q: Q) -> Result<BlobQuery, BlobError> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::BadRequest(e.body_text()).into())
}

/// The store, the caller (authenticated) and whether they may see (and, with `write`, upload)
/// the blob through the document; not found otherwise.
fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    sha: &str,
    doc: &str,
    write: bool,
) -> Result<(Arc<BlobStore>, String), BlobError> {
    let (who, _) = principal_within(state, headers, &state.blob_requests)?;
    let Some(store) = state.blobs.clone() else {
        return Err(AppError::NotFound.into());
    };
    match BlobStore::authorize(state.storage.as_ref(), &who.user, sha, doc, write)? {
        None => Err(AppError::NotFound.into()),
        Some(false) => Err(AppError::Forbidden("this role may not write that document").into()),
        Some(true) => Ok((store, who.user.id)),
    }
}

async fn head_blob(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    q: Q,
) -> Result<Response, BlobError> {
    let q = query(q)?;
    blocking_blob(move || {
        let (store, user) = authorized(&state, &headers, &sha, &q.doc, false)?;
        Ok(match store.state(&sha, &user)? {
            BlobState::Complete(size) => (
                StatusCode::OK,
                [
                    (header::CONTENT_LENGTH, HeaderValue::from(size)),
                    (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                ],
            )
                .into_response(),
            BlobState::Partial(offset) => (
                StatusCode::NO_CONTENT,
                [(UPLOAD_OFFSET, HeaderValue::from(offset))],
            )
                .into_response(),
            BlobState::Absent => StatusCode::NOT_FOUND.into_response(),
        })
    })
    .await
}

async fn get_blob(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    q: Q,
) -> Result<Response, BlobError> {
    let q = query(q)?;
    blocking_blob(move || {
        let thumbnail = match q.variant.as_deref() {
            None => false,
            Some("thumb") => true,
            Some(_) => {
                return Err(AppError::BadRequest("variant must be thumb".into()).into());
            }
        };
        let (store, _) = authorized(&state, &headers, &sha, &q.doc, false)?;
        if thumbnail {
            let thumb = match store.thumbnail(&sha) {
                Ok(Some(t)) => t,
                Ok(None) => return Err(AppError::NotFound.into()),
                Err(firegrid_core::Error::Invalid { .. }) => return Err(BlobError::NoThumbnail),
                Err(e) => return Err(e.into()),
            };
            let etag = format!("\"thumb-{}\"", firegrid_core::photo::sha256_hex(&thumb));
            return Ok((
                [
                    (header::CONTENT_TYPE, "image/jpeg".to_string()),
                    (header::ETAG, etag),
                    (
                        header::CACHE_CONTROL,
                        "private, max-age=31536000, immutable".to_string(),
                    ),
                ],
                thumb,
            )
                .into_response());
        }
        let Some(bytes) = store.read(&sha)? else {
            return Err(AppError::NotFound.into());
        };
        Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg".to_string()),
                (header::ETAG, format!("\"{sha}\"")),
                (
                    header::CACHE_CONTROL,
                    "private, max-age=31536000, immutable".to_string(),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

async fn put_blob(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    q: Q,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, BlobError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BlobError::TooLarge(format!("a chunk is at most {MAX_CHUNK_BYTES} bytes"))
        } else {
            AppError::BadRequest(e.body_text()).into()
        }
    })?;
    let q = query(q)?;
    blocking_blob(move || {
        let (store, user) = authorized(&state, &headers, &sha, &q.doc, true)?;
        let (Some(offset), Some(total)) = (q.offset, q.total) else {
            return Err(AppError::BadRequest("a PUT needs offset and total".into()).into());
        };
        if total > MAX_BLOB_BYTES {
            return Err(BlobError::TooLarge(format!(
                "a blob is at most {MAX_BLOB_BYTES} bytes"
            )));
        }
        if body.len() > MAX_CHUNK_BYTES {
            return Err(BlobError::TooLarge(format!(
                "a chunk is at most {MAX_CHUNK_BYTES} bytes"
            )));
        }
        if body.is_empty() || offset.saturating_add(body.len() as u64) > total {
            return Err(AppError::BadRequest(
                "a chunk is not empty and ends at or before total".into(),
            )
            .into());
        }
        let now = (state.now_ms)();
        match store.put(&sha, &user, offset, total, &body, now)? {
            PutOutcome::AlreadyComplete => Ok(StatusCode::OK.into_response()),
            PutOutcome::Created => {
                tracing::info!(user = %user, blob = %sha, size = total, "blob stored");
                Ok(StatusCode::CREATED.into_response())
            }
            PutOutcome::Stored(len) => Ok((
                StatusCode::NO_CONTENT,
                [(UPLOAD_OFFSET, HeaderValue::from(len))],
            )
                .into_response()),
            PutOutcome::WrongOffset(len) => Err(BlobError::WrongOffset(len)),
            PutOutcome::HashMismatch => {
                tracing::warn!(user = %user, blob = %sha, "blob upload refused: hash mismatch");
                Err(BlobError::HashMismatch)
            }
            PutOutcome::OverQuota(usage) => Err(BlobError::QuotaExceeded {
                used: usage.completed + usage.reserved,
                quota: store.quota(),
            }),
            PutOutcome::TooManyUploads => Err(BlobError::TooManyUploads),
        }
    })
    .await
}

async fn blocking_blob(
    f: impl FnOnce() -> Result<Response, BlobError> + Send + 'static,
) -> Result<Response, BlobError> {
    // The shared runner returns AppError; carry ours through it inside the Ok side.
    blocking(move || Ok(f())).await?
}

/// The blob routes, merged into [`crate::http::app`].
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/v1/blobs/{sha256}",
        get(get_blob)
            .head(head_blob)
            .put(put_blob)
            // Room for the largest chunk; a larger body becomes the JSON 413 above.
            .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES)),
    )
}
