//! `firegrid-server`: Firegrid's server binary and its admin subcommands.
//!
//! Owns argument parsing and printing only; the work is done by `firegrid_core` and by the
//! modules of this crate. The sync server itself (`serve`) arrives with the sync issue (#3);
//! until then `seed-sample` builds the seeded store and `check-fixtures` validates the data.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use firegrid_server::{sample_district, seed};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::SeedSample { data_dir, fixtures } => {
            seed::seed_sample(&data_dir, &seed::fixtures_dir(fixtures))
                .map(|report| print!("{report}"))
                .map_err(|e| e.to_string())
        }
        Command::CheckFixtures { fixtures } => seed::check_fixtures(&seed::fixtures_dir(fixtures))
            .map(|report| print!("{report}"))
            .map_err(|e| e.to_string()),
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
