//! Evidence-photo blobs over real sockets (`/v1/blobs/{sha256}`): the server on 127.0.0.1 with
//! its SQLite store and blob directory; phones report hazards whose `PhotoRef`s name made-up
//! bytes, sync, then upload those bytes whole, in random chunks with interruptions (resumed from
//! the offset the server reports), and with every kind of mistake; others try to read them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use std::io::Read;
use std::sync::{Arc, OnceLock};

use common::{Rng, fixtures, serve};
use firegrid_core::access::{Role, User};
use firegrid_core::hazard::{NewHazard, Severity};
use firegrid_core::sync::http::HttpClient;
use firegrid_core::vocab::PhotoRef;
use firegrid_server::admin;
use firegrid_server::http::{AppState, RateLimiter, app};
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, Response};
use sha2::{Digest, Sha256};

const PW: &str = "zhenru-blob-password";
/// Quota of every user in these tests (two 16 MiB reservations fit, a third does not).
const QUOTA: u64 = 40 * 1024 * 1024;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn photo(sha256: &str) -> PhotoRef {
    PhotoRef {
        sha256: sha256.to_string(),
        captured_at_ms: None,
        location: None,
    }
}

/// The bytes every test uploads: made up, named by their hash.
struct Photos {
    whole: Vec<u8>,
    resumed: Vec<Vec<u8>>,
    mismatch: Vec<u8>,
    offsets: Vec<u8>,
    during: Vec<u8>,
    others: Vec<u8>,
}

struct Fixture {
    base: String,
    /// The patroller who reported the hazard with the photos, and their token.
    a_token: String,
    a_hazard: String,
    /// A patroller of another grid, with a hazard of their own (quota test).
    b_token: String,
    b_hazard: String,
    b_big: Vec<String>,
    office_token: String,
    photos: Photos,
    /// Referenced by nothing.
    stray: String,
    http: Client,
}

fn patroller_of_another_grid(district: &firegrid_core::district::District, a: &User) -> User {
    district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller && u.scope.id != a.scope.id)
        .unwrap()
        .clone()
}

/// Starts the server (the real router and stores, rate limit lifted for the many chunks of the
/// resume rounds), logs in a phone per patroller, reports hazards referencing the photos and
/// syncs them: blobs are uploaded after the document that references them.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = Rng(0x5EED_0005);
        let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
        let a = district
            .users
            .iter()
            .find(|u| u.role == Role::GridPatroller)
            .unwrap()
            .clone();
        let b = patroller_of_another_grid(&district, &a);
        let office = district
            .users
            .iter()
            .find(|u| u.role == Role::StreetOffice)
            .unwrap()
            .clone();

        let dir = tempfile::tempdir().unwrap().keep();
        let data = admin::open(&dir.join("server")).unwrap();
        admin::seed_documents(&data, &fixtures()).unwrap();
        for u in [&a, &b, &office] {
            data.accounts.set_password(&u.id, PW, 0).unwrap();
        }
        let blobs = data.blobs.clone().unwrap();
        blobs.set_quota(QUOTA);
        let mut state = AppState::new(data.storage.clone(), data.accounts.clone());
        state.blobs = Some(blobs);
        state.requests = RateLimiter::per_minute(u32::MAX);
        let base = serve(app(Arc::new(state)));

        let photos = Photos {
            whole: rng.bytes(300_000),
            resumed: (0..10)
                .map(|_| {
                    let n = 20_000 + rng.below(1_500_000) as usize;
                    rng.bytes(n)
                })
                .collect(),
            mismatch: rng.bytes(100_000),
            offsets: rng.bytes(50_000),
            during: rng.bytes(80_000),
            others: rng.bytes(30_000),
        };
        let client = HttpClient::new(&base).unwrap();
        let phone = |user: &User, name: &str, refs: Vec<PhotoRef>| {
            let (store, token) = common::phone(&client, &dir.join(name), &user.id, PW);
            let shop = district
                .premises
                .iter()
                .find(|p| p.grid == user.scope.id)
                .unwrap();
            let hazard = store
                .report_hazard(NewHazard {
                    premises: shop.id.clone(),
                    description: "疏散通道堆放货物".into(),
                    severity: Severity::Serious,
                    photos: refs,
                    location: None,
                })
                .unwrap()
                .id;
            store.sync_http(&client, &token, &mut |_| {}).unwrap();
            assert_eq!(store.unsynced_count().unwrap(), 0);
            (token, hazard)
        };
        let refs: Vec<PhotoRef> = [
            &photos.whole,
            &photos.mismatch,
            &photos.offsets,
            &photos.during,
            &photos.others,
        ]
        .into_iter()
        .chain(&photos.resumed)
        .map(|b| photo(&sha(b)))
        .collect();
        let (a_token, a_hazard) = phone(&a, "a.db", refs);
        let b_big: Vec<String> = (0..3).map(|i| format!("{i:x}").repeat(64)).collect();
        let (b_token, b_hazard) = phone(&b, "b.db", b_big.iter().map(|s| photo(s)).collect());
        let office_token = client
            .login(&office.id, PW, "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b")
            .unwrap()
            .session
            .access_token;
        Fixture {
            base,
            a_token,
            a_hazard,
            b_token,
            b_hazard,
            b_big,
            office_token,
            photos,
            stray: sha(b"referenced by nothing"),
            http: Client::new(),
        }
    })
}

impl Fixture {
    fn url(&self, sha: &str, doc: &str) -> String {
        format!("{}/v1/blobs/{sha}?doc={doc}", self.base)
    }

    fn head(&self, token: &str, sha: &str, doc: &str) -> Response {
        self.http
            .head(self.url(sha, doc))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    fn get(&self, token: &str, sha: &str, doc: &str) -> Response {
        self.http
            .get(self.url(sha, doc))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    fn put(
        &self,
        token: &str,
        sha: &str,
        doc: &str,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Response {
        self.http
            .put(format!(
                "{}&offset={offset}&total={total}",
                self.url(sha, doc)
            ))
            .bearer_auth(token)
            .body(chunk)
            .send()
            .unwrap()
    }

    /// Where to resume the upload of `sha`: a HEAD's `Upload-Offset` (204), or 0 when
    /// nothing of it is stored (404).
    fn offset(&self, sha: &str) -> u64 {
        let r = self.head(&self.a_token, sha, &self.a_hazard);
        match r.status() {
            StatusCode::NO_CONTENT => upload_offset(&r),
            StatusCode::NOT_FOUND => 0,
            other => panic!("HEAD answered {other}"),
        }
    }
}

fn upload_offset(r: &Response) -> u64 {
    r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn json(r: Response) -> serde_json::Value {
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().unwrap()
}

/// Uploads `bytes` from `offset` in chunks of at most `chunk`; returns the last status.
fn upload_from(f: &Fixture, bytes: &[u8], mut offset: usize, chunk: usize) -> StatusCode {
    let name = sha(bytes);
    loop {
        let end = (offset + chunk).min(bytes.len());
        let r = f.put(
            &f.a_token,
            &name,
            &f.a_hazard,
            offset as u64,
            bytes.len() as u64,
            bytes[offset..end].to_vec(),
        );
        if end == bytes.len() {
            return r.status();
        }
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(upload_offset(&r), end as u64);
        offset = end;
    }
}

/// A request body that yields `n` bytes and then fails: the connection is cut mid-chunk.
struct Cut {
    data: Vec<u8>,
    pos: usize,
}
impl Read for Cut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.data.len() {
            return Err(std::io::Error::other("link lost"));
        }
        let n = buf.len().min(self.data.len() - self.pos).min(8 * 1024);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_photo_uploaded_whole_is_served_with_its_hash_as_etag() {
    let f = fixture();
    let bytes = &f.photos.whole;
    let name = sha(bytes);
    assert_eq!(
        f.head(&f.a_token, &name, &f.a_hazard).status(),
        StatusCode::NOT_FOUND
    );
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        bytes.len() as u64,
        bytes.clone(),
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    // Idempotent: again → 200, nothing written.
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        bytes.len() as u64,
        bytes.clone(),
    );
    assert_eq!(r.status(), StatusCode::OK);
    let r = f.head(&f.a_token, &name, &f.a_hazard);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    let r = f.get(&f.a_token, &name, &f.a_hazard);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["etag"], format!("\"{name}\"").as_str());
    assert_eq!(
        r.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert_eq!(r.bytes().unwrap().as_ref(), bytes.as_slice());
    // The street office sees the hazard, so the photo too.
    let r = f.get(&f.office_token, &name, &f.a_hazard);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().unwrap().as_ref(), bytes.as_slice());
}

#[test]
fn uploads_interrupted_at_random_offsets_resume_from_the_servers_offset() {
    let f = fixture();
    let mut rng = Rng(0x00C0_FFEE_0005);
    let mut interruptions = 0;
    let mut cut_connections = 0;
    let mut stale_resends = 0;
    let started = std::time::Instant::now();
    // 10 photos of 20 KB to 1.5 MB; at least 100 interruptions spread over them.
    let per_photo = 100usize.div_ceil(f.photos.resumed.len());
    for bytes in &f.photos.resumed {
        let name = sha(bytes);
        let total = bytes.len() as u64;
        let mut offset = 0usize;
        let mut left = per_photo;
        loop {
            let largest: u64 = match rng.below(4) {
                0 => 1024 * 1024,
                1 => 4 * 1024,
                _ => 256 * 1024,
            };
            // While interruptions are due, chunks leave room for more of them.
            let room = if left > 0 {
                (bytes.len() - offset) as u64 / 2
            } else {
                largest
            };
            let chunk = 1 + rng.below(largest.min(room)) as usize;
            let end = (offset + chunk).min(bytes.len());
            if left > 0 && end < bytes.len() {
                // An interruption.
                left -= 1;
                interruptions += 1;
                match rng.below(3) {
                    0 => {
                        // The link drops in the middle of the chunk's body: nothing of it
                        // may count.
                        let cut_at = rng.below((end - offset) as u64) as usize;
                        let body = Body::new(Cut {
                            data: bytes[offset..offset + cut_at].to_vec(),
                            pos: 0,
                        });
                        let sent = f
                            .http
                            .put(format!(
                                "{}&offset={offset}&total={total}",
                                f.url(&name, &f.a_hazard)
                            ))
                            .bearer_auth(&f.a_token)
                            .body(body)
                            .send();
                        assert!(sent.is_err());
                        cut_connections += 1;
                    }
                    1 => {
                        // The server stored the chunk but the answer was lost: the phone
                        // sends it again at the old offset and is told where to resume.
                        let r = f.put(
                            &f.a_token,
                            &name,
                            &f.a_hazard,
                            offset as u64,
                            total,
                            bytes[offset..end].to_vec(),
                        );
                        assert_eq!(r.status(), StatusCode::NO_CONTENT);
                        let r = f.put(
                            &f.a_token,
                            &name,
                            &f.a_hazard,
                            offset as u64,
                            total,
                            bytes[offset..end].to_vec(),
                        );
                        assert_eq!(r.status(), StatusCode::CONFLICT);
                        assert_eq!(json(r)["offset"], end as u64);
                        stale_resends += 1;
                    }
                    _ => {
                        // The phone stopped (app killed) after the chunk was stored.
                        let r = f.put(
                            &f.a_token,
                            &name,
                            &f.a_hazard,
                            offset as u64,
                            total,
                            bytes[offset..end].to_vec(),
                        );
                        assert_eq!(r.status(), StatusCode::NO_CONTENT);
                    }
                }
                // Never half a photo.
                assert_eq!(
                    f.get(&f.a_token, &name, &f.a_hazard).status(),
                    StatusCode::NOT_FOUND
                );
                // The phone forgot everything: HEAD says where to resume.
                let server_offset = f.offset(&name) as usize;
                assert!(server_offset == offset || server_offset == end);
                offset = server_offset;
                continue;
            }
            let r = f.put(
                &f.a_token,
                &name,
                &f.a_hazard,
                offset as u64,
                total,
                bytes[offset..end].to_vec(),
            );
            if end == bytes.len() {
                assert_eq!(r.status(), StatusCode::CREATED);
                break;
            }
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert_eq!(upload_offset(&r), end as u64);
            offset = end;
        }
        let r = f.get(&f.a_token, &name, &f.a_hazard);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().unwrap().as_ref(), bytes.as_slice());
    }
    assert!(interruptions >= 100, "{interruptions} interruptions");
    eprintln!(
        "{interruptions} interruptions ({cut_connections} cut mid-body, {stale_resends} stale \
         resends) over {} photos, {} bytes, in {:?}",
        f.photos.resumed.len(),
        f.photos.resumed.iter().map(Vec::len).sum::<usize>(),
        started.elapsed()
    );
}

#[test]
fn a_photo_being_uploaded_is_never_served() {
    let f = fixture();
    let bytes = &f.photos.during;
    let name = sha(bytes);
    let total = bytes.len() as u64;
    for end in [1usize, 40_000, bytes.len() - 1] {
        let offset = if end == 1 {
            0
        } else {
            f.offset(&name) as usize
        };
        let r = f.put(
            &f.a_token,
            &name,
            &f.a_hazard,
            offset as u64,
            total,
            bytes[offset..end].to_vec(),
        );
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            f.get(&f.a_token, &name, &f.a_hazard).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            f.get(&f.office_token, &name, &f.a_hazard).status(),
            StatusCode::NOT_FOUND
        );
        // The office has no upload of it: nothing.
        assert_eq!(
            f.head(&f.office_token, &name, &f.a_hazard).status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        upload_from(f, bytes, bytes.len() - 1, 1024),
        StatusCode::CREATED
    );
    assert_eq!(
        f.get(&f.a_token, &name, &f.a_hazard)
            .bytes()
            .unwrap()
            .as_ref(),
        bytes.as_slice()
    );
}

#[test]
fn bytes_that_do_not_hash_to_the_name_are_refused_and_discarded() {
    let f = fixture();
    let name = sha(&f.photos.mismatch);
    let mut wrong = f.photos.mismatch.clone();
    wrong[77_777] ^= 1;
    let total = wrong.len() as u64;
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        total,
        wrong[..60_000].to_vec(),
    );
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        60_000,
        total,
        wrong[60_000..].to_vec(),
    );
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(r)["error"], "hash_mismatch");
    // Discarded: no upload in progress, nothing served.
    assert_eq!(
        f.head(&f.a_token, &name, &f.a_hazard).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.get(&f.a_token, &name, &f.a_hazard).status(),
        StatusCode::NOT_FOUND
    );
    // The right bytes are accepted afterwards.
    assert_eq!(
        upload_from(f, &f.photos.mismatch, 0, 64 * 1024),
        StatusCode::CREATED
    );
}

#[test]
fn a_chunk_at_the_wrong_offset_is_told_the_right_one() {
    let f = fixture();
    let bytes = &f.photos.offsets;
    let name = sha(bytes);
    let total = bytes.len() as u64;
    // Not from 0 when nothing is there.
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        1000,
        total,
        bytes[1000..2000].to_vec(),
    );
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers()["upload-offset"], "0");
    assert_eq!(json(r)["offset"], 0);
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        total,
        bytes[..10_000].to_vec(),
    );
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for wrong in [0u64, 5_000, 10_001, 20_000] {
        let r = f.put(&f.a_token, &name, &f.a_hazard, wrong, total, vec![1; 10]);
        assert_eq!(r.status(), StatusCode::CONFLICT, "offset {wrong}");
        let body = json(r);
        assert_eq!(body["error"], "offset_mismatch");
        assert_eq!(body["offset"], 10_000);
    }
    // A chunk past the declared total, an empty chunk, no total: 400.
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        10_000,
        total,
        vec![0; 40_001],
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = f.put(&f.a_token, &name, &f.a_hazard, 10_000, total, Vec::new());
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(f.offset(&name), 10_000);
    assert_eq!(upload_from(f, bytes, 10_000, 7_000), StatusCode::CREATED);
}

#[test]
fn oversized_chunks_and_blobs_are_413_json() {
    let f = fixture();
    let name = sha(&f.photos.whole);
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        4 * 1024 * 1024,
        vec![0; 1024 * 1024 + 1],
    );
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(r)["error"], "too_large");
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        16 * 1024 * 1024 + 1,
        vec![0; 10],
    );
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(r)["error"], "too_large");
}

#[test]
fn the_quota_counts_uploads_in_progress_and_refuses_with_507() {
    let f = fixture();
    let big = 16 * 1024 * 1024;
    for name in &f.b_big[..2] {
        let r = f.put(&f.b_token, name, &f.b_hazard, 0, big, vec![7; 1024]);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    // 32 MiB reserved; 16 more would exceed 40 MiB.
    let r = f.put(&f.b_token, &f.b_big[2], &f.b_hazard, 0, big, vec![7; 1024]);
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body = json(r);
    assert_eq!(body["error"], "quota_exceeded");
    assert_eq!(body["quota"], QUOTA);
    assert_eq!(
        f.head(&f.b_token, &f.b_big[2], &f.b_hazard).status(),
        StatusCode::NOT_FOUND
    );
    // A smaller one still fits.
    let r = f.put(
        &f.b_token,
        &f.b_big[2],
        &f.b_hazard,
        0,
        1024 * 1024,
        vec![7; 1024],
    );
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[test]
fn others_and_strangers_get_404_and_no_token_gets_401() {
    let f = fixture();
    let name = sha(&f.photos.others);
    let total = f.photos.others.len() as u64;
    let r = f.put(
        &f.a_token,
        &name,
        &f.a_hazard,
        0,
        total,
        f.photos.others.clone(),
    );
    assert_eq!(r.status(), StatusCode::CREATED);

    // A patroller of another grid: the hazard is not theirs to see.
    assert_eq!(
        f.get(&f.b_token, &name, &f.a_hazard).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.head(&f.b_token, &name, &f.a_hazard).status(),
        StatusCode::NOT_FOUND
    );
    let r = f.put(
        &f.b_token,
        &name,
        &f.a_hazard,
        0,
        total,
        f.photos.others.clone(),
    );
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(r)["error"], "not_found");
    // Nor through their own hazard, which does not reference it.
    assert_eq!(
        f.get(&f.b_token, &name, &f.b_hazard).status(),
        StatusCode::NOT_FOUND
    );
    // A hash the document does not reference, an unknown document, a premises document,
    // a malformed hash: the same 404.
    for (sha, doc) in [
        (f.stray.as_str(), f.a_hazard.as_str()),
        (name.as_str(), "hazard.nope"),
        (name.as_str(), "NOT AN ID"),
        ("abc", f.a_hazard.as_str()),
        (&name.to_uppercase(), f.a_hazard.as_str()),
    ] {
        assert_eq!(
            f.get(&f.a_token, sha, doc).status(),
            StatusCode::NOT_FOUND,
            "{sha} {doc}"
        );
        assert_eq!(f.head(&f.a_token, sha, doc).status(), StatusCode::NOT_FOUND);
    }
    let r = f.put(&f.a_token, &f.stray, &f.a_hazard, 0, 5, vec![1; 5]);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // No token, a bad token.
    for req in [
        f.http.get(f.url(&name, &f.a_hazard)),
        f.http.head(f.url(&name, &f.a_hazard)),
        f.http
            .put(format!("{}&offset=0&total=1", f.url(&name, &f.a_hazard)))
            .body(vec![1]),
        f.http.get(f.url(&name, &f.a_hazard)).bearer_auth("forged"),
    ] {
        assert_eq!(req.send().unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let r = f.http.get(f.url(&name, &f.a_hazard)).send().unwrap();
    assert_eq!(json(r)["error"], "unauthorized");
}

/// The metadata rules on one backend, through the blob store itself: a resumable upload, the
/// quota counting reservations, completion, expiry of an abandoned upload (its reservation
/// freed), and the thumbnail variant.
fn metadata_rules(blobs: &firegrid_server::blobs::BlobStore, user: &str) {
    use firegrid_server::blobs::{ABANDONED_AFTER_MS, BlobState, PutOutcome};
    let mut rng = Rng(0x9_0057_9E55);
    let now = firegrid_core::vocab::now_ms();
    let data = rng.bytes(3_000);
    let name = sha(&data);
    assert_eq!(blobs.state(&name, user).unwrap(), BlobState::Absent);
    assert_eq!(
        blobs
            .put(&name, user, 0, 3_000, &data[..1_000], now)
            .unwrap(),
        PutOutcome::Stored(1_000)
    );
    assert_eq!(blobs.state(&name, user).unwrap(), BlobState::Partial(1_000));
    assert_eq!(blobs.usage(user).unwrap().reserved, 3_000);
    assert_eq!(blobs.usage(user).unwrap().uploads, 1);
    // The reservation counts: another 3 000 bytes do not fit a 5 000-byte quota.
    blobs.set_quota(5_000);
    let other = rng.bytes(3_000);
    assert!(matches!(
        blobs
            .put(&sha(&other), user, 0, 3_000, &other[..10], now)
            .unwrap(),
        PutOutcome::OverQuota(_)
    ));
    assert_eq!(
        blobs
            .put(&name, user, 1_000, 3_000, &data[1_000..], now)
            .unwrap(),
        PutOutcome::Created
    );
    let usage = blobs.usage(user).unwrap();
    assert_eq!(
        (usage.completed, usage.reserved, usage.uploads),
        (3_000, 0, 0)
    );
    assert_eq!(blobs.read(&name).unwrap().unwrap(), data);

    // An abandoned upload: nothing for longer than the idle time → deleted, quota freed.
    blobs.set_quota(1 << 30);
    let stale = rng.bytes(2_000);
    let stale_name = sha(&stale);
    let long_ago = now - ABANDONED_AFTER_MS - 60_000;
    assert_eq!(
        blobs
            .put(&stale_name, user, 0, 2_000, &stale[..500], long_ago)
            .unwrap(),
        PutOutcome::Stored(500)
    );
    // A fresh one (started now) is kept.
    let fresh = rng.bytes(2_000);
    blobs
        .put(&sha(&fresh), user, 0, 2_000, &fresh[..500], now)
        .unwrap();
    assert_eq!(blobs.usage(user).unwrap().reserved, 4_000);
    // Started long ago but its partial was written just now: still moving, kept.
    assert_eq!(blobs.expire_abandoned(now, ABANDONED_AFTER_MS).unwrap(), 0);
    // A week after their last chunks, both are abandoned: deleted, their reservations freed.
    let later = now + ABANDONED_AFTER_MS + 60_000;
    assert_eq!(
        blobs.expire_abandoned(later, ABANDONED_AFTER_MS).unwrap(),
        2
    );
    assert_eq!(blobs.state(&stale_name, user).unwrap(), BlobState::Absent);
    assert_eq!(blobs.state(&sha(&fresh), user).unwrap(), BlobState::Absent);
    let usage = blobs.usage(user).unwrap();
    assert_eq!((usage.reserved, usage.uploads), (0, 0));
    assert_eq!(usage.completed, 3_000, "completed blobs are never expired");
    assert_eq!(blobs.read(&name).unwrap().unwrap(), data);

    // The thumbnail of a real photo: made once, then served from the cache.
    let camera = std::fs::read(fixtures().join("photos/exif-orientation-6-gps.jpg")).unwrap();
    let photo = firegrid_core::photo::process(&camera, &Default::default(), false).unwrap();
    let total = photo.image.len() as u64;
    assert_eq!(
        blobs
            .put(&photo.sha256, user, 0, total, &photo.image, now)
            .unwrap(),
        PutOutcome::Created
    );
    let thumb = blobs.thumbnail(&photo.sha256).unwrap().unwrap();
    assert_eq!(
        thumb, photo.thumbnail,
        "the devices' own thumbnail, byte for byte"
    );
    assert_eq!(blobs.thumbnail(&photo.sha256).unwrap().unwrap(), thumb);
    // Not an image: no thumbnail, a typed error.
    assert!(matches!(
        blobs.thumbnail(&name),
        Err(firegrid_core::Error::Invalid { .. })
    ));
    assert_eq!(blobs.thumbnail(&stale_name).unwrap(), None);
}

#[test]
fn blob_metadata_rules_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = admin::open(&dir.path().join("server")).unwrap();
    metadata_rules(&data.blobs.unwrap(), "grid.patroller.sqlite");
}

#[test]
fn blob_metadata_rules_on_postgres() {
    let Some(schema) = firegrid_server::pg::TestSchema::create("blob_metadata_rules_on_postgres")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = admin::open_db(dir.path(), Some(&schema.url())).unwrap();
    metadata_rules(&data.blobs.unwrap(), "grid.patroller.pg");
}

#[test]
fn blob_requests_have_a_budget_apart_from_sync() {
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let a = district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap()
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let data = admin::open(&dir.path().join("server")).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    data.accounts.set_password(&a.id, PW, 0).unwrap();
    let mut state = AppState::new(data.storage.clone(), data.accounts.clone());
    state.blobs = data.blobs;
    state.requests = RateLimiter::per_minute(12);
    state.blob_requests = RateLimiter::per_minute(41);
    let base = serve(app(Arc::new(state)));
    let client = HttpClient::new(&base).unwrap();
    let (store, token) = common::phone(&client, &dir.path().join("phone.db"), &a.id, PW);
    let shop = district
        .premises
        .iter()
        .find(|p| p.grid == a.scope.id)
        .unwrap();
    let bytes = Rng(3).bytes(5_000);
    let hazard = store
        .report_hazard(NewHazard {
            premises: shop.id.clone(),
            description: "配电箱前堆物".into(),
            severity: Severity::General,
            photos: vec![photo(&sha(&bytes))],
            location: None,
        })
        .unwrap()
        .id;
    let first = store.sync_http(&client, &token, &mut |_| {}).unwrap();
    assert!(first.rounds < 10, "the test needs room in sync's budget");
    let http = Client::new();
    let url = format!("{base}/v1/blobs/{}?doc={hazard}", sha(&bytes));
    // Many blob requests (more than sync's whole budget) …
    for _ in 0..40 {
        let r = http.head(&url).bearer_auth(&token).send().unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // … leave sync's budget untouched.
    store
        .report_hazard(NewHazard {
            premises: shop.id.clone(),
            description: "灭火器压力不足".into(),
            severity: Severity::General,
            photos: Vec::new(),
            location: None,
        })
        .unwrap();
    store.sync_http(&client, &token, &mut |_| {}).unwrap();
    assert_eq!(store.unsynced_count().unwrap(), 0);
    // The blob budget is spent: 429 with Retry-After, while sync still works.
    let r = http.head(&url).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the 41st blob request");
    let r = http
        .put(format!("{url}&offset=0&total=5000"))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    store.sync_http(&client, &token, &mut |_| {}).unwrap();
}
