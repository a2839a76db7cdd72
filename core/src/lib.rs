//! `firegrid-core`: the domain of Firegrid (premises, checklists of the three inspection
//! categories, inspections, hazards, the street's organisation), the on-device store (SQLite,
//! every record an automerge document), and the fixture loaders.
//!
//! Everything here works with no network. The FFI crate wraps this API for Kotlin and Swift;
//! nothing here depends on uniffi.

pub mod access;
pub mod checklist;
pub mod district;
mod error;
mod fixture;
pub mod hazard;
pub mod hydrate;
pub mod inspection;
pub mod photo;
pub mod premises;
pub mod sqlite;
pub mod standard;
pub mod store;
pub mod sync;
pub mod vocab;

pub use error::{Error, Result};

/// The version of this crate (the product version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use store::Store;
