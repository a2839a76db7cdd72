//! `firegrid-server`: Firegrid's server binary and its admin subcommands.
//!
//! Owns argument parsing and printing only; the work is done by `firegrid_core` and by the
//! modules of this crate: `serve` runs the sync server (SQLite files in `--data-dir`, or
//! PostgreSQL with `--db`), `user` and `device` manage accounts, `seed-sample` builds a seeded
//! device store, `check-fixtures` validates the data and `ledger` exports the hazard ledger.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::io::Read as _;
use std::net::SocketAddr;

use firegrid_core::access::Role;
use firegrid_server::{admin, ledger, sample_district, seed, serve};

#[derive(Debug, Parser)]
#[command(
    name = "firegrid-server",
    version,
    about = "Firegrid server and admin commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server (embedded SQLite in --data-dir).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Folder of the server's databases (sync.db, accounts.db).
        #[arg(long, default_value = "firegrid-server-data")]
        data_dir: PathBuf,
        /// Use PostgreSQL instead of the SQLite files (postgres://user@host:port/db); several
        /// instances may serve one database.
        #[arg(long)]
        db: Option<String>,
        /// Load the sample street into an empty server and give its users the sample password.
        #[arg(long)]
        seed_sample: bool,
        /// Fixtures folder for --seed-sample (default: ./fixtures, else the source tree's).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
    /// Users: add (password read from stdin), disable, enable.
    User {
        #[command(subcommand)]
        action: UserAction,
        /// Folder of the server's databases.
        #[arg(long, default_value = "firegrid-server-data", global = true)]
        data_dir: PathBuf,
        /// PostgreSQL database (postgres://…) instead of the SQLite files.
        #[arg(long, global = true)]
        db: Option<String>,
    },
    /// Devices: revoke a lost or stolen one (its tokens stop working at the next request).
    Device {
        #[command(subcommand)]
        action: DeviceAction,
        /// Folder of the server's databases.
        #[arg(long, default_value = "firegrid-server-data", global = true)]
        data_dir: PathBuf,
        /// PostgreSQL database (postgres://…) instead of the SQLite files.
        #[arg(long, global = true)]
        db: Option<String>,
    },
    /// Validate the fixtures and build a store seeded with the sample street (idempotent).
    SeedSample {
        /// Folder of the store file (`firegrid.db`).
        #[arg(long, default_value = "firegrid-data")]
        data_dir: PathBuf,
        /// Fixtures folder (default: ./fixtures, else the one in the source tree).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
    /// Validate every fixture file (checklists, standards, district) and print a summary.
    CheckFixtures {
        /// Fixtures folder (default: ./fixtures, else the one in the source tree).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
    /// Export the hazard ledger (隐患台账) as the whole street: .xlsx (both tables) or one
    /// table as CSV. Filters as the HTTP route's: dates are YYYY-MM-DD (Shanghai, inclusive).
    Ledger {
        /// Folder of the server's databases.
        #[arg(long, default_value = "firegrid-server-data")]
        data_dir: PathBuf,
        /// PostgreSQL database (postgres://…) instead of the SQLite files.
        #[arg(long)]
        db: Option<String>,
        /// File to write.
        #[arg(long)]
        out: PathBuf,
        /// xlsx or csv (default: csv when --out ends in .csv, else xlsx).
        #[arg(long)]
        format: Option<String>,
        /// CSV only: cases (default) or events.
        #[arg(long)]
        table: Option<String>,
        /// First day of the period, YYYY-MM-DD (cases with any event in the period).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the period, YYYY-MM-DD, inclusive.
        #[arg(long)]
        to: Option<String>,
        /// Community id, e.g. com.01.
        #[arg(long)]
        community: Option<String>,
        /// residential, street_shop or large_site.
        #[arg(long)]
        category: Option<String>,
        /// discovered, filed, dispatched, handled, verified or closed.
        #[arg(long)]
        status: Option<String>,
        /// Listed supervision in force: street or district.
        #[arg(long)]
        supervision: Option<String>,
        /// Language of headers and labels: zh (default) or en.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Regenerate the sample street (deterministic) into a folder.
    SampleDistrict {
        /// Folder to write street.json, premises.json, key_residents.json, users.json into.
        #[arg(long, default_value = "fixtures/district")]
        out: PathBuf,
        /// Seed of the generator; the committed sample uses the default.
        #[arg(long, default_value_t = sample_district::DEFAULT_SEED)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Create a user or update one (the password is read from stdin).
    Add {
        /// Login id, e.g. u.gp101.
        name: String,
        /// Role: grid_patroller, residential_worker, station_crew, street_office, department, admin.
        #[arg(long)]
        role: String,
        /// Scope: street:ID, community:ID, grid:ID, station:ID or department:ID.
        #[arg(long)]
        scope: String,
        /// Display name (default: the login id).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable a user: every session ends at its next request.
    Disable {
        /// Login id.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login id.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceAction {
    /// Revoke a device by id.
    Revoke {
        /// Device id (as shown by the app).
        id: String,
    },
}

fn run_serve(
    listen: SocketAddr,
    data_dir: PathBuf,
    db: Option<String>,
    seed_sample: bool,
    fixtures: Option<PathBuf>,
) -> Result<(), String> {
    let data = admin::open_db(&data_dir, db.as_deref())?;
    if seed_sample {
        let n = admin::seed_sample(&data, &seed::fixtures_dir(fixtures))?;
        println!(
            "sample street loaded ({n} new documents); sample users log in with the password \"{}\" — demo data only",
            admin::SAMPLE_PASSWORD
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve::serve(listen, data))
}

fn run_user(action: UserAction, data_dir: PathBuf, db: Option<String>) -> Result<(), String> {
    let data = admin::open_db(&data_dir, db.as_deref())?;
    match action {
        UserAction::Add {
            name,
            role,
            scope,
            display_name,
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: firegrid_core::Error| e.to_string())?;
            let scope = admin::parse_scope(&scope)?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| e.to_string())?;
            let password = password.trim_end_matches(['\r', '\n']);
            let display = display_name.unwrap_or_else(|| name.clone());
            admin::add_user(&data, &name, &display, role, scope, password)?;
            println!("user {name} saved");
        }
        UserAction::Disable { name } => {
            if !data
                .accounts
                .set_disabled(&name, true)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no account {name}"));
            }
            println!("user {name} disabled");
        }
        UserAction::Enable { name } => {
            if !data
                .accounts
                .set_disabled(&name, false)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no account {name}"));
            }
            println!("user {name} enabled");
        }
    }
    Ok(())
}

fn run_ledger(
    data_dir: &std::path::Path,
    db: Option<&str>,
    out: &std::path::Path,
    format: Option<&str>,
    query: &ledger::LedgerQuery,
) -> Result<(), String> {
    let format = match format {
        Some(f) => ledger::Format::parse(f).map_err(|e| e.to_string())?,
        None if out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
        {
            ledger::Format::Csv
        }
        None => ledger::Format::Xlsx,
    };
    // Check the filters before opening (and maybe creating) the data folder.
    query.filter().map_err(|e| e.to_string())?;
    query.lang().map_err(|e| e.to_string())?;
    query.table().map_err(|e| e.to_string())?;
    if db.is_none() && !data_dir.join("sync.db").exists() {
        return Err(format!("no server data in {}", data_dir.display()));
    }
    let data = admin::open_db(data_dir, db)?;
    let export = admin::export_ledger(&data, query, format, out)?;
    if export.skipped > 0 {
        eprintln!(
            "warning: {} hazard documents could not be read and are not in the ledger (see the log)",
            export.skipped
        );
    }
    println!(
        "wrote {} cases and {} events to {}",
        export.cases,
        export.events,
        out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            data_dir,
            db,
            seed_sample,
            fixtures,
        } => run_serve(listen, data_dir, db, seed_sample, fixtures),
        Command::User {
            action,
            data_dir,
            db,
        } => run_user(action, data_dir, db),
        Command::Device {
            action: DeviceAction::Revoke { id },
            data_dir,
            db,
        } => admin::open_db(&data_dir, db.as_deref()).and_then(|data| {
            match data
                .accounts
                .revoke_device(&id, firegrid_core::vocab::now_ms())
                .map_err(|e| e.to_string())?
            {
                true => {
                    println!("device {id} revoked");
                    Ok(())
                }
                false => Err(format!("no active device {id}")),
            }
        }),
        Command::SeedSample { data_dir, fixtures } => {
            seed::seed_sample(&data_dir, &seed::fixtures_dir(fixtures))
                .map(|report| print!("{report}"))
                .map_err(|e| e.to_string())
        }
        Command::CheckFixtures { fixtures } => seed::check_fixtures(&seed::fixtures_dir(fixtures))
            .map(|report| print!("{report}"))
            .map_err(|e| e.to_string()),
        Command::Ledger {
            data_dir,
            db,
            out,
            format,
            table,
            from,
            to,
            community,
            category,
            status,
            supervision,
            lang,
        } => {
            let query = ledger::LedgerQuery {
                from,
                to,
                community,
                category,
                status,
                supervision,
                lang,
                table,
            };
            run_ledger(&data_dir, db.as_deref(), &out, format.as_deref(), &query)
        }
        Command::SampleDistrict { out, seed } => sample_district::write_to(&out, seed)
            .map(|n| println!("wrote {n} files to {}", out.display()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
