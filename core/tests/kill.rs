//! Crash safety: a child process records inspections and is killed with SIGKILL at random
//! instants; after every kill the store must open, pass `integrity_check`, hold only whole
//! records (every document loads, its query rows match), and keep every write the child was
//! told had succeeded.
//!
//! The child is this same test binary, re-executed with `FIREGRID_KILL_CHILD_DB` set, running
//! only `kill_child_writer` (which does nothing in a normal test run).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::{AnswerResult, InspectionStatus};
use firegrid_core::premises::Category;

const CHILD_ENV: &str = "FIREGRID_KILL_CHILD_DB";

/// splitmix64: a tiny deterministic generator so a failing round can be replayed by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Entry point of the child process (a no-op unless the parent set `FIREGRID_KILL_CHILD_DB`):
/// records inspections forever, printing one line per write that returned `Ok`.
#[test]
fn kill_child_writer() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let seed: u64 = std::env::var("FIREGRID_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng(seed);
    let store = Store::open(&db).expect("child opens the store");
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).expect("sign in");
    let shops: Vec<_> = loaded()
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .collect();
    let out = std::io::stdout();
    let ack = |line: String| {
        let mut o = out.lock();
        writeln!(o, "{line}").expect("stdout");
        o.flush().expect("flush");
    };
    let checklist = store.checklist("street_shop", 1).expect("checklist");
    loop {
        let shop = shops[rng.below(shops.len() as u64) as usize];
        let insp = store.start_inspection(&shop.id, None).expect("start");
        ack(format!("start {}", insp.id));
        for item_id in &insp.items {
            let fail = rng.below(8) == 0;
            let result = if fail {
                AnswerResult::Fail
            } else {
                AnswerResult::Pass
            };
            store
                .answer(&insp.id, item_id, result, None)
                .expect("answer");
            ack(format!("answer {} {} {}", insp.id, item_id, result));
            if fail
                && checklist
                    .item(item_id)
                    .is_some_and(|i| i.photo_required_on_fail)
            {
                let p = photo((rng.below(250) + 1) as u8);
                store
                    .attach_photo(&insp.id, item_id, p.clone())
                    .expect("photo");
                ack(format!("photo {} {} {}", insp.id, item_id, p.sha256));
            }
        }
        let report = store.finish_inspection(&insp.id, None).expect("finish");
        ack(format!("finish {} {}", insp.id, report.hazards.join(",")));
    }
}

#[derive(Debug)]
enum Ack {
    Start(String),
    Answer(String, String, AnswerResult),
    Photo(String, String, String),
    Finish(String, Vec<String>),
}

fn parse(line: &str) -> Option<Ack> {
    let parts: Vec<&str> = line.split(' ').collect();
    match parts.as_slice() {
        ["start", id] => Some(Ack::Start(id.to_string())),
        ["answer", id, item, r] => Some(Ack::Answer(
            id.to_string(),
            item.to_string(),
            r.parse().ok()?,
        )),
        ["photo", id, item, sha] => Some(Ack::Photo(
            id.to_string(),
            item.to_string(),
            sha.to_string(),
        )),
        ["finish", id, hz] => Some(Ack::Finish(
            id.to_string(),
            hz.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        ["finish", id] => Some(Ack::Finish(id.to_string(), vec![])),
        _ => None,
    }
}

fn check_acknowledged(store: &Store, acks: &[Ack]) {
    for ack in acks {
        match ack {
            Ack::Start(id) => {
                store
                    .inspection(id)
                    .unwrap_or_else(|e| panic!("acknowledged start {id} lost: {e}"));
            }
            Ack::Answer(id, item, r) => {
                let i = store
                    .inspection(id)
                    .expect("inspection of an acknowledged answer");
                assert_eq!(
                    i.answers.get(item).and_then(|a| a.result),
                    Some(*r),
                    "acknowledged answer lost"
                );
            }
            Ack::Photo(id, item, sha) => {
                let i = store
                    .inspection(id)
                    .expect("inspection of an acknowledged photo");
                assert!(
                    i.answers[item].photos.iter().any(|p| &p.sha256 == sha),
                    "acknowledged photo lost"
                );
            }
            Ack::Finish(id, hazards) => {
                let i = store.inspection(id).expect("finished inspection");
                assert_eq!(
                    i.status,
                    InspectionStatus::Finished,
                    "acknowledged finish lost"
                );
                assert_eq!(&i.hazards, hazards);
                for h in hazards {
                    store.hazard(h).unwrap_or_else(|e| {
                        panic!("hazard {h} of a finished inspection lost: {e}")
                    });
                }
            }
        }
    }
}

#[test]
fn sigkill_at_random_instants_leaves_only_whole_records() {
    let rounds: u64 = std::env::var("FIREGRID_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("firegrid.db");
    drop(seeded_store(dir.path()));
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x5EED);
    let mut total_acks = 0usize;
    let mut killed_mid_inspection = 0;

    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &db)
            .env("FIREGRID_KILL_SEED", (round + 1).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first write, then kill after a random delay (0–250 ms of writing).
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child wrote nothing in 60 s");
        let delay = Duration::from_millis(rng.below(250));
        let t = Instant::now();
        let mut lines = vec![first];
        while t.elapsed() < delay {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(1)) {
                lines.push(l);
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the child must have been killed"
        );
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let acks: Vec<Ack> = lines.iter().filter_map(|l| parse(l)).collect();
        if !matches!(acks.last(), Some(Ack::Finish(..))) {
            killed_mid_inspection += 1;
        }
        total_acks += acks.len();

        let store =
            Store::open(&db).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        store
            .verify()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        check_acknowledged(&store, &acks);
    }
    eprintln!(
        "{rounds} kills, {total_acks} acknowledged writes checked, {killed_mid_inspection} kills mid-inspection"
    );
    assert!(
        total_acks as u64 > rounds,
        "the children must have written something"
    );
    assert!(
        killed_mid_inspection > 0,
        "some kills must land in the middle of an inspection"
    );
}
