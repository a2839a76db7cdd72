//! Helpers shared by the server's blob and photo tests: the fixtures folder, a seeded random
//! generator (a failing run replays), and a router served on a free port of 127.0.0.1.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a part of the helpers"
)]

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// splitmix64: a seeded generator, so a failing run replays.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Serves `router` on a free port of 127.0.0.1 from a background thread with its own runtime;
/// returns the base URL once the port is bound.
pub fn serve(router: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
            axum::serve(listener, router).await.expect("serving");
        });
    });
    base
}

/// A phone of `user`: a store at `path` with the fixtures imported, the user signed in on it
/// and logged in on the server with `password`. Returns the store and its access token.
pub fn phone(
    client: &firegrid_core::sync::http::HttpClient,
    path: &Path,
    user: &str,
    password: &str,
) -> (firegrid_core::Store, String) {
    let store = firegrid_core::Store::open(path).expect("the store opens");
    store
        .import_fixtures(&fixtures())
        .expect("the fixtures import");
    store.set_current_user(user).expect("the user signs in");
    let token = client
        .login(user, password, store.device_id())
        .expect("the login")
        .session
        .access_token;
    (store, token)
}
