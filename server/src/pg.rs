//! PostgreSQL plumbing shared by the sync store ([`crate::sync::postgres`]) and the accounts
//! ([`crate::auth`]) when the server runs on PostgreSQL (`serve --db postgres://…`): a small
//! connection pool that replaces broken connections, schema migrations tracked per component
//! under an advisory lock (several server instances may start at once), and the helpers the
//! PostgreSQL tests use to get a schema of their own.
//!
//! Connections are plain (no TLS): the expected deployment runs PostgreSQL on the same host or
//! a private network. It must not hold business logic; it only hands out connections.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use postgres::{Client, Config, NoTls};

/// Environment variable naming the PostgreSQL server the tests may use
/// (`.ci/run` sets it to `postgres://postgres@127.0.0.1:5432/test`).
pub const TEST_URL_VAR: &str = "FIREGRID_TEST_POSTGRES_URL";

/// Connections kept per pool: enough for the blocking request threads of one instance.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// What went wrong, in words: for an error reported by the server, postgres' `Display` says
/// only "db error"; its SQLSTATE and message say what happened (row values go to the detail,
/// left out here so no data reaches a log or a response).
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL {}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// An error of the PostgreSQL layer, as the server's storage error.
pub fn backend(e: postgres::Error) -> firegrid_core::Error {
    firegrid_core::Error::Backend(describe(&e))
}

/// A fixed-size pool of connections to one database. A connection found closed (PostgreSQL
/// restarted, network cut) is replaced on the next checkout, so the server recovers by itself.
pub struct PgPool {
    config: Config,
    conns: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("host", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("size", &self.conns.len())
            .finish_non_exhaustive()
    }
}

/// A checked-out connection; returned to the pool when dropped.
pub struct PgConn<'a> {
    guard: MutexGuard<'a, Option<Client>>,
}

impl std::fmt::Debug for PgConn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").finish_non_exhaustive()
    }
}

impl std::ops::Deref for PgConn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        // `checkout` only hands out a slot it has filled.
        self.guard.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for PgConn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.guard.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl PgPool {
    /// Parses `url` (`postgres://user@host:port/db`) and connects once, so a wrong URL or an
    /// unreachable server fails at startup with PostgreSQL's message.
    pub fn connect(url: &str, size: usize) -> Result<PgPool, String> {
        let config = Config::from_str(url).map_err(|e| format!("bad PostgreSQL URL: {e}"))?;
        PgPool::with_config(config, size)
    }

    /// A pool on a parsed configuration (tests set a search path in it).
    pub fn with_config(config: Config, size: usize) -> Result<PgPool, String> {
        let first = config
            .connect(NoTls)
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        let mut conns = Vec::with_capacity(size.max(1));
        conns.push(Mutex::new(Some(first)));
        conns.resize_with(size.max(1), || Mutex::new(None));
        Ok(PgPool {
            config,
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// An idle connection (or, all being busy, the next one in turn once it is free),
    /// reconnecting it first if it was never opened or has closed.
    pub fn get(&self) -> Result<PgConn<'_>, postgres::Error> {
        let mut guard = self.checkout();
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.config.connect(NoTls)?);
        }
        Ok(PgConn { guard })
    }

    fn checkout(&self) -> MutexGuard<'_, Option<Client>> {
        for slot in &self.conns {
            match slot.try_lock() {
                Ok(guard) => return guard,
                // A panic while a connection was out leaves no open transaction behind
                // (the transaction object rolls back on drop): the connection is reusable.
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Brings `component`'s tables to the latest of `migrations` (`migrations[i]` makes version
/// `i + 1`), each in its own transaction. The versions live in `firegrid_schema`; an advisory
/// lock makes instances starting together migrate one after the other. Refuses a database
/// written by a newer server.
pub fn migrate(client: &mut Client, component: &str, migrations: &[&str]) -> Result<(), String> {
    let err = |e: postgres::Error| format!("PostgreSQL migration of {component}: {e}");
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS firegrid_schema (
                 component TEXT PRIMARY KEY,
                 version   INTEGER NOT NULL
             )",
        )
        .or_else(|e| {
            // Two instances creating the table at the same instant: one of them loses the
            // race on the catalog; the table exists either way.
            if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(err)?;
    let mut tx = client.transaction().map_err(err)?;
    // One key for every Firegrid migration: 0x4647 "FG".
    tx.execute("SELECT pg_advisory_xact_lock(4647)", &[])
        .map_err(err)?;
    let current: i32 = tx
        .query_opt(
            "SELECT version FROM firegrid_schema WHERE component = $1",
            &[&component],
        )
        .map_err(err)?
        .map_or(0, |r| r.get(0));
    let latest = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
    if current > latest {
        return Err(format!(
            "the PostgreSQL {component} schema is version {current}, newer than this server \
             ({latest}); run a newer firegrid-server"
        ));
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).map_err(err)?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO firegrid_schema(component, version) VALUES ($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            &[&component, &version],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// For tests: a schema of its own in the database named by [`TEST_URL_VAR`], dropped with
/// everything in it when this value is dropped.
#[derive(Debug)]
pub struct TestSchema {
    url: String,
    name: String,
    config: Config,
}

impl TestSchema {
    /// A new, empty schema, or `None` (after saying loudly on stderr that `test` is skipped)
    /// when [`TEST_URL_VAR`] is not set. Panics when the variable is set but the database is
    /// unusable: then the test must fail, not pass silently.
    pub fn create(test: &str) -> Option<TestSchema> {
        let Ok(url) = std::env::var(TEST_URL_VAR) else {
            eprintln!(
                "SKIPPED {test}: set {TEST_URL_VAR}=postgres://postgres@127.0.0.1:5432/test \
                 to run the PostgreSQL tests (.ci/run does)"
            );
            return None;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let result = Config::from_str(&url)
            .map_err(|e| e.to_string())
            .and_then(|mut config| {
                let mut client = config.connect(NoTls).map_err(|e| e.to_string())?;
                client
                    .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
                    .map_err(|e| e.to_string())?;
                config.options(&format!("-c search_path={name}"));
                Ok(config)
            });
        match result {
            Ok(config) => Some(TestSchema { url, name, config }),
            Err(e) => panic!("{TEST_URL_VAR} is set but PostgreSQL is unusable: {e}"),
        }
    }

    /// Connections made with this configuration work in the schema.
    pub fn config(&self) -> Config {
        self.config.clone()
    }

    /// A `postgres://` URL whose connections work in the schema (for a server process).
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = Config::from_str(&self.url).and_then(|c| c.connect(NoTls)) {
            let _ = client.batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name));
        }
    }
}
