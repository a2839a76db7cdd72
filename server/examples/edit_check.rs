//! The server's side of the 100-edit round trip, alone and repeatable: a device records N
//! inspection-like records (15 answers each) and pushes them to an embedded SQLite server in
//! process (no HTTP), then, round after round, edits one answer in each of 100 records not
//! edited before and pushes them in one request. Prints the time of each `sync::handle` call
//! and the median.
//!
//! ```sh
//! cargo run --release -p firegrid-server --example edit_check -- 2000 20   # N, rounds
//! # instruction counts of each handle call (repeatable whatever the machine's load):
//! valgrind --tool=callgrind --dump-before='firegrid_server::sync::handle' \
//!   --dump-after='firegrid_server::sync::handle' target/release/examples/edit_check 200 2
//! ```
//!
//! Under callgrind the dumps written *after* each call hold its cost: the first is the push
//! of the N new records, the next ones the rounds of 100 edits.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring tool")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::sync::protocol::SyncRequest;
use firegrid_server::admin;
use firegrid_server::sync::{Principal, handle};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: edit_check [N] [ROUNDS]"))
        .collect();
    let n = args.first().copied().unwrap_or(1000).max(100);
    let rounds = args.get(1).copied().unwrap_or(10).clamp(1, n / 100);
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let office = district
        .users
        .iter()
        .find(|u| u.role == Role::StreetOffice)
        .unwrap();
    let shops: Vec<_> = district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let data = admin::open(&dir.path().join("server")).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    let device = Store::open(dir.path().join("device.db")).unwrap();
    device.import_fixtures(&fixtures()).unwrap();
    device.set_current_user(&office.id).unwrap();
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let insp = device
            .start_inspection(&shops[i % shops.len()].id, None)
            .unwrap();
        for item in insp.items.iter().take(15) {
            device
                .answer(&insp.id, item, AnswerResult::Pass, None)
                .unwrap();
        }
        records.push((insp.id, insp.items));
    }
    let who = Principal {
        user: office.clone(),
        device_id: device.device_id().to_string(),
    };
    let storage = data.storage.clone();
    let last_ms = std::cell::Cell::new(0.0);
    let mut transport = |bytes: Vec<u8>| {
        let req = SyncRequest::decode(&bytes)?;
        let t = Instant::now();
        let resp = handle(&*storage, &who, &req);
        last_ms.set(t.elapsed().as_secs_f64() * 1e3);
        resp?.encode()
    };
    let t = Instant::now();
    device.sync_via(&mut transport, &mut |_| {}).unwrap();
    eprintln!(
        "pushed {n} records: handle {:.1} ms of the whole sync's {:.1} ms (the rest: the device \
         building the request and applying the response, and the codec)",
        last_ms.get(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let step = n / 100;
    let mut times = Vec::with_capacity(rounds);
    for r in 0..rounds {
        for (id, items) in records.iter().skip(r).step_by(step).take(100) {
            device
                .answer(id, &items[1], AnswerResult::Fail, Some("复查发现".into()))
                .unwrap();
        }
        let report = device.sync_via(&mut transport, &mut |_| {}).unwrap();
        assert_eq!(report.acknowledged, 100, "every edit acknowledged");
        eprintln!("round {r}: handle {:.2} ms", last_ms.get());
        times.push(last_ms.get());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "N = {n}: 100 edits, handle median {:.2} ms, min {:.2} ms over {rounds} rounds",
        times[times.len() / 2],
        times[0]
    );
}
