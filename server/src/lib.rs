//! `firegrid-server` as a library: the sync engine, the sample-district generator and the
//! seeding commands, used by the `firegrid-server` binary and by the tests.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod http;
pub mod ledger;
pub mod pg;
pub mod sample_district;
pub mod seed;
pub mod serve;
pub mod sync;
