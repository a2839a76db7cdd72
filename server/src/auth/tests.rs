//! Tests of the accounts, each run on SQLite and, when `FIREGRID_TEST_POSTGRES_URL` is set, on
//! PostgreSQL (otherwise the PostgreSQL run prints a SKIPPED line). "Instances" are several
//! `Accounts` on the same storage: two pools on one PostgreSQL schema behave like two servers.

use std::sync::{Arc, Barrier};

use super::*;
use crate::pg::TestSchema;

const DEV: &str = "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b";
const OTHER_DEV: &str = "1f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b";
const PW: &str = "correct horse battery";

/// Where one run of a test keeps its accounts.
enum Storage {
    Sqlite(tempfile::TempDir),
    Postgres(Box<TestSchema>),
}

impl Storage {
    /// Another instance on this storage (for PostgreSQL, with a pool of its own).
    fn open(&self) -> Accounts {
        match self {
            Storage::Sqlite(dir) => Accounts::open(&dir.path().join("accounts.db")).unwrap(),
            Storage::Postgres(schema) => {
                Accounts::open_postgres(Arc::new(PgPool::with_config(schema.config(), 4).unwrap()))
                    .unwrap()
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// Everything stored, as bytes: the SQLite files, or every PostgreSQL row as text.
    fn raw(&self) -> Vec<u8> {
        match self {
            Storage::Sqlite(dir) => {
                let mut raw = std::fs::read(dir.path().join("accounts.db")).unwrap();
                raw.extend(std::fs::read(dir.path().join("accounts.db-wal")).unwrap_or_default());
                raw
            }
            Storage::Postgres(schema) => {
                let mut client = schema.config().connect(postgres::NoTls).unwrap();
                let mut raw = Vec::new();
                for table in ["account", "device", "token"] {
                    for row in client
                        .query(&format!("SELECT t::text FROM {table} t"), &[])
                        .unwrap()
                    {
                        raw.extend(row.get::<_, String>(0).into_bytes());
                        raw.push(b'\n');
                    }
                }
                raw
            }
        }
    }
}

/// SQLite always; PostgreSQL when the test database is configured.
fn storages(test: &str) -> Vec<Storage> {
    let mut all = vec![Storage::Sqlite(tempfile::tempdir().unwrap())];
    if let Some(schema) = TestSchema::create(&format!("auth::{test}")) {
        all.push(Storage::Postgres(Box::new(schema)));
    }
    all
}

/// Runs `body` on each backend, on a fresh instance where u.gp001 has the password `PW`.
fn on_each_backend(test: &str, body: impl Fn(&Accounts)) {
    for storage in storages(test) {
        eprintln!("{test} on {}", storage.name());
        let a = storage.open();
        a.set_password("u.gp001", PW, 0).unwrap();
        body(&a);
    }
}

/// Runs `body` on each backend, with the storage itself (to open more instances).
fn on_each_storage(test: &str, body: impl Fn(&Storage)) {
    for storage in storages(test) {
        eprintln!("{test} on {}", storage.name());
        body(&storage);
    }
}

#[test]
fn login_refresh_and_authenticate() {
    on_each_backend("login_refresh_and_authenticate", |a| {
        assert_eq!(
            a.login("u.gp001", "wrong password!", DEV, 0),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            a.login("u.nobody", PW, DEV, 0),
            Err(AuthError::BadCredentials)
        );
        let s = a.login("u.gp001", PW, DEV, 1_000).unwrap();
        assert_eq!(s.access_token.len(), 64, "256 random bits");
        assert_eq!(
            a.authenticate(&s.access_token, 2_000).unwrap().user_id,
            "u.gp001"
        );
        assert_eq!(
            a.authenticate(&s.refresh_token, 2_000),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.authenticate(&s.access_token, 1_000 + ACCESS_TTL_MS),
            Err(AuthError::Expired)
        );
        // Refresh after the access token expired, weeks later.
        let later = 1_000 + 20 * 24 * 3600 * 1000;
        let s2 = a.refresh(&s.refresh_token, later).unwrap();
        assert_eq!(
            a.authenticate(&s2.access_token, later).unwrap().device_id,
            DEV
        );
        // The previous access token ended with the rotation.
        assert_eq!(
            a.authenticate(&s.access_token, later),
            Err(AuthError::InvalidToken)
        );
        // A refresh token expires too.
        let s3 = a.refresh(&s2.refresh_token, later).unwrap();
        assert_eq!(
            a.refresh(&s3.refresh_token, later + REFRESH_TTL_MS),
            Err(AuthError::Expired)
        );
        // A used refresh token presented again revokes the whole login.
        assert_eq!(
            a.refresh(&s.refresh_token, later),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.authenticate(&s3.access_token, later),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.refresh(&s3.refresh_token, later),
            Err(AuthError::InvalidToken)
        );
    });
}

#[test]
fn disable_revoke_and_logout_take_effect_at_once() {
    on_each_backend("disable_revoke_and_logout_take_effect_at_once", |a| {
        let s = a.login("u.gp001", PW, DEV, 0).unwrap();
        assert!(a.set_disabled("u.gp001", true).unwrap());
        assert!(!a.set_disabled("u.nobody", true).unwrap());
        assert_eq!(a.authenticate(&s.access_token, 1), Err(AuthError::Disabled));
        assert_eq!(a.refresh(&s.refresh_token, 1), Err(AuthError::Disabled));
        assert_eq!(a.login("u.gp001", PW, DEV, 1), Err(AuthError::Disabled));
        a.set_disabled("u.gp001", false).unwrap();
        assert!(a.authenticate(&s.access_token, 1).is_ok());
        assert!(a.revoke_device(DEV, 2).unwrap());
        assert!(!a.revoke_device(DEV, 2).unwrap(), "already revoked");
        assert_eq!(
            a.authenticate(&s.access_token, 3),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.login("u.gp001", PW, DEV, 3),
            Err(AuthError::DeviceRevoked)
        );
        let s = a.login("u.gp001", PW, OTHER_DEV, 4).unwrap();
        a.logout(&s.access_token, 5).unwrap();
        assert_eq!(
            a.authenticate(&s.access_token, 6),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(a.refresh(&s.refresh_token, 6), Err(AuthError::InvalidToken));
    });
}

#[test]
fn secrets_are_not_stored_in_clear_and_bad_input_is_refused() {
    on_each_storage(
        "secrets_are_not_stored_in_clear_and_bad_input_is_refused",
        |storage| {
            let a = storage.open();
            a.set_password("u.gp001", PW, 0).unwrap();
            let s = a.login("u.gp001", PW, DEV, 0).unwrap();
            drop(a);
            let raw = storage.raw();
            let text = String::from_utf8_lossy(&raw);
            assert!(text.contains("u.gp001"), "the dump holds the rows");
            assert!(!text.contains(PW));
            assert!(!text.contains(&s.access_token));
            assert!(!text.contains(&s.refresh_token));

            let a = storage.open();
            assert!(a.has_account("u.gp001").unwrap());
            assert!(!a.has_account("u.x").unwrap());
            assert_eq!(
                a.set_password("u.x", "short", 0),
                Err(AuthError::Invalid("password: at least 10 characters"))
            );
            assert!(!a.has_account("u.x").unwrap());
            assert_eq!(
                a.login("u.gp001", PW, "not-a-uuid", 0),
                Err(AuthError::Invalid("device_id"))
            );
            assert_eq!(
                a.login("u'; DROP TABLE account; --", PW, DEV, 0),
                Err(AuthError::BadCredentials)
            );
            assert_eq!(a.authenticate("", 0), Err(AuthError::InvalidToken));
            assert_eq!(
                a.authenticate(&"z".repeat(64), 0),
                Err(AuthError::InvalidToken)
            );
            assert_eq!(
                a.authenticate(&"é".repeat(32), 0),
                Err(AuthError::InvalidToken)
            );
            assert_eq!(a.refresh("", 0), Err(AuthError::InvalidToken));
            assert_eq!(
                a.refresh(&"\0".repeat(5000), 0),
                Err(AuthError::InvalidToken)
            );
            a.logout("not a token", 0).unwrap();
            // An access token is not a refresh token.
            assert_eq!(a.refresh(&s.access_token, 1), Err(AuthError::InvalidToken));
            assert!(a.authenticate(&s.access_token, 1).is_ok());
            // A second user logging in on the same phone ends the first one's session there.
            a.set_password("u.gp002", PW, 0).unwrap();
            let first = a.login("u.gp001", PW, DEV, 1).unwrap();
            let second = a.login("u.gp002", PW, DEV, 2).unwrap();
            assert_eq!(
                a.authenticate(&first.access_token, 3),
                Err(AuthError::InvalidToken)
            );
            assert_eq!(
                a.refresh(&first.refresh_token, 3),
                Err(AuthError::InvalidToken)
            );
            assert_eq!(
                a.authenticate(&second.access_token, 3).unwrap().user_id,
                "u.gp002"
            );
            // Changing a password keeps the account and its creation.
            a.set_password("u.gp002", "another good password", 9)
                .unwrap();
            assert_eq!(
                a.login("u.gp002", PW, DEV, 10),
                Err(AuthError::BadCredentials)
            );
            assert!(a.login("u.gp002", "another good password", DEV, 10).is_ok());
        },
    );
}

#[test]
fn two_instances_share_sessions_and_revocations() {
    on_each_storage("two_instances_share_sessions_and_revocations", |storage| {
        let (one, two) = (storage.open(), storage.open());
        one.set_password("u.gp001", PW, 0).unwrap();
        assert!(two.has_account("u.gp001").unwrap());
        let s = one.login("u.gp001", PW, DEV, 0).unwrap();
        assert_eq!(
            two.authenticate(&s.access_token, 1).unwrap(),
            Authenticated {
                user_id: "u.gp001".into(),
                device_id: DEV.into()
            }
        );
        // Refreshed on one instance, used on the other; the spent token is refused everywhere.
        let s = two.refresh(&s.refresh_token, 2).unwrap();
        assert!(one.authenticate(&s.access_token, 3).is_ok());
        // Disabled through one instance: refused by the other at the next request.
        assert!(one.set_disabled("u.gp001", true).unwrap());
        assert_eq!(
            two.authenticate(&s.access_token, 4),
            Err(AuthError::Disabled)
        );
        assert_eq!(two.login("u.gp001", PW, DEV, 4), Err(AuthError::Disabled));
        assert!(two.set_disabled("u.gp001", false).unwrap());
        assert!(one.authenticate(&s.access_token, 5).is_ok());
        // Revoked through one: refused by the other, for requests, refreshes and logins.
        assert!(one.revoke_device(DEV, 6).unwrap());
        assert_eq!(
            two.authenticate(&s.access_token, 7),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            two.refresh(&s.refresh_token, 7),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            two.login("u.gp001", PW, DEV, 7),
            Err(AuthError::DeviceRevoked)
        );
        // Signed out through one: refused by the other.
        let s = two.login("u.gp001", PW, OTHER_DEV, 8).unwrap();
        assert!(one.authenticate(&s.access_token, 9).is_ok());
        one.logout(&s.access_token, 9).unwrap();
        assert_eq!(
            two.authenticate(&s.access_token, 10),
            Err(AuthError::InvalidToken)
        );
    });
}

#[test]
fn concurrent_refreshes_of_one_token_give_one_session() {
    on_each_storage(
        "concurrent_refreshes_of_one_token_give_one_session",
        |storage| {
            let instances = [storage.open(), storage.open()];
            instances[0].set_password("u.gp001", PW, 0).unwrap();
            let s = instances[0].login("u.gp001", PW, DEV, 0).unwrap();
            let barrier = Barrier::new(8);
            let results: Vec<Result<Session>> = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..8)
                    .map(|i| {
                        let (a, barrier, token) = (&instances[i % 2], &barrier, &s.refresh_token);
                        scope.spawn(move || {
                            barrier.wait();
                            a.refresh(token, 1_000)
                        })
                    })
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap()).collect()
            });
            let won: Vec<&Session> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(won.len(), 1, "{results:?}");
            for r in &results {
                if let Err(e) = r {
                    assert_eq!(e, &AuthError::InvalidToken);
                }
            }
            // The others presented a spent token: that is reuse, and the whole login ends,
            // the winner's new pair included.
            assert_eq!(
                instances[1].authenticate(&won[0].access_token, 2_000),
                Err(AuthError::InvalidToken)
            );
            assert_eq!(
                instances[0].refresh(&won[0].refresh_token, 2_000),
                Err(AuthError::InvalidToken)
            );
        },
    );
}

#[test]
fn concurrent_first_logins_on_a_device_agree_on_its_owner() {
    on_each_storage(
        "concurrent_first_logins_on_a_device_agree_on_its_owner",
        |storage| {
            let instances = [storage.open(), storage.open()];
            instances[0].set_password("u.gp001", PW, 0).unwrap();
            instances[0].set_password("u.gp002", PW, 0).unwrap();
            let users = ["u.gp001", "u.gp002"];
            let barrier = Barrier::new(8);
            let sessions: Vec<Session> = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..8)
                    .map(|i| {
                        let (a, barrier, user) = (&instances[i % 2], &barrier, users[i / 4]);
                        scope.spawn(move || {
                            barrier.wait();
                            a.login(user, PW, DEV, 1_000)
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|t| t.join().unwrap().unwrap())
                    .collect()
            });
            // Whoever logged in last owns the phone; no one else has a working session on it.
            let working: Vec<String> = sessions
                .iter()
                .filter_map(|s| instances[0].authenticate(&s.access_token, 2_000).ok())
                .map(|who| who.user_id)
                .collect();
            assert!(!working.is_empty());
            assert!(working.iter().all(|u| u == &working[0]), "{working:?}");
        },
    );
}

#[test]
fn postgres_open_twice_migrates_once() {
    let Some(schema) = TestSchema::create("auth::postgres_open_twice_migrates_once") else {
        return;
    };
    let pool = Arc::new(PgPool::with_config(schema.config(), 2).unwrap());
    let first = Accounts::open_postgres(pool.clone()).unwrap();
    first.set_password("u.gp001", PW, 0).unwrap();
    let s = first.login("u.gp001", PW, DEV, 0).unwrap();
    // Again on the same pool, and as another instance: the data stays, nothing is re-created.
    let again = Accounts::open_postgres(pool.clone()).unwrap();
    let other = Accounts::open_postgres(Arc::new(PgPool::with_config(schema.config(), 1).unwrap()))
        .unwrap();
    assert!(again.authenticate(&s.access_token, 1).is_ok());
    assert!(other.authenticate(&s.access_token, 1).is_ok());
    let mut client = pool.get().unwrap();
    let version: i32 = client
        .query_one(
            "SELECT version FROM firegrid_schema WHERE component = 'accounts'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
    // A database written by a newer server is refused.
    client
        .execute(
            "UPDATE firegrid_schema SET version = 2 WHERE component = 'accounts'",
            &[],
        )
        .unwrap();
    drop(client);
    assert!(matches!(
        Accounts::open_postgres(pool),
        Err(AuthError::Storage(_))
    ));
}

#[test]
fn refreshes_racing_revocations_never_fail_with_storage_errors() {
    on_each_storage(
        "refreshes_racing_revocations_never_fail_with_storage_errors",
        |storage| {
            let instances = [storage.open(), storage.open()];
            instances[0].set_password("u.gp001", PW, 0).unwrap();
            for i in 0..40 {
                let device = uuid::Uuid::new_v4().simple().to_string();
                let s = instances[0].login("u.gp001", PW, &device, i).unwrap();
                let barrier = Barrier::new(2);
                let (refreshed, revoked) = std::thread::scope(|scope| {
                    let refresh = scope.spawn(|| {
                        barrier.wait();
                        instances[0].refresh(&s.refresh_token, i + 1)
                    });
                    let revoke = scope.spawn(|| {
                        barrier.wait();
                        if i % 2 == 0 {
                            instances[1].revoke_device(&device, i + 1).map(|_| ())
                        } else {
                            instances[1].logout(&s.access_token, i + 1)
                        }
                    });
                    (refresh.join().unwrap(), revoke.join().unwrap())
                });
                assert!(revoked.is_ok(), "{revoked:?}");
                match refreshed {
                    Ok(next) => {
                        // Refreshed first: the new pair is refused too (revoked with the
                        // login, or, when the device revocation's statement started before
                        // the pair was stored, refused because the device is revoked).
                        let refused = instances[1].authenticate(&next.access_token, i + 2);
                        assert!(
                            matches!(
                                refused,
                                Err(AuthError::InvalidToken | AuthError::DeviceRevoked)
                            ),
                            "{refused:?}"
                        );
                        if i % 2 == 1 {
                            assert_eq!(refused, Err(AuthError::InvalidToken), "signed out");
                        }
                    }
                    Err(e) => assert!(
                        matches!(e, AuthError::InvalidToken | AuthError::DeviceRevoked),
                        "{e:?}"
                    ),
                }
            }
        },
    );
}

#[test]
fn expired_tokens_are_purged_and_live_ones_kept() {
    on_each_backend("expired_tokens_are_purged", |a| {
        let old = a.login("u.gp001", PW, DEV, 0).unwrap();
        let later = REFRESH_TTL_MS + 1;
        let new = a.login("u.gp001", PW, DEV, later).unwrap();
        // Both tokens of the first login have expired; the second login's are live.
        assert_eq!(a.purge_expired(later + 1).unwrap(), 2);
        assert_eq!(a.purge_expired(later + 1).unwrap(), 0);
        assert_eq!(
            a.authenticate(&old.access_token, later + 1),
            Err(AuthError::InvalidToken)
        );
        assert!(a.authenticate(&new.access_token, later + 1).is_ok());
        assert!(a.refresh(&new.refresh_token, later + 2).is_ok());
    });
}
