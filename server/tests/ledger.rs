//! The hazard ledger (台账) end to end: three phones (a grid patroller, the street office, a
//! member department) work real cases through the core's closed loop and sync them to the
//! real server over sockets; one older case is stored directly with a history the server
//! would refuse (a patroller "filing"), so the ledger's flags show. Then the ledger is
//! exported through `GET /v1/ledger.xlsx` / `GET /v1/ledger.csv` and through the
//! `firegrid-server ledger` subcommand, read back (xlsx with Python's openpyxl, CSV with the
//! `csv` crate) and checked cell by cell; filters, roles and bad parameters are checked on
//! the HTTP route; the same ledger comes out of the in-memory, SQLite and PostgreSQL stores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use firegrid_core::Store;
use firegrid_core::access::{Role, Scope, ScopeKind, User};
use firegrid_core::district::District;
use firegrid_core::hazard::{
    Hazard, HazardAction, HazardEvent, HazardEventKind, HazardOrigin, NewHazard, Severity,
    SupervisionLevel,
};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::{Category, Premises};
use firegrid_core::store::RecordKind;
use firegrid_core::sync::http::HttpClient;
use firegrid_core::vocab::{Localized, PhotoRef, now_ms};
use firegrid_server::admin;
use firegrid_server::ledger::{self, LedgerFilter, local_text};
use firegrid_server::sync::memory::MemoryStorage;
use firegrid_server::sync::{CommitOutcome, DocWrite, SyncStorage, parent_of};

const PW: &str = "zhenru-ledger-password";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn phone(dir: &Path, user: &User, client: &HttpClient) -> (Store, String) {
    let store = Store::open(dir.join("phone.db")).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store.set_current_user(&user.id).unwrap();
    let login = client.login(&user.id, PW, store.device_id()).unwrap();
    (store, login.session.access_token)
}

fn sync(store: &Store, client: &HttpClient, token: &str) {
    store.sync_http(client, token, &mut |_| {}).unwrap();
    assert_eq!(
        store.unsynced_count().unwrap(),
        0,
        "everything was accepted"
    );
}

fn photo(hex2: &str) -> PhotoRef {
    PhotoRef {
        sha256: hex2.repeat(32),
        captured_at_ms: None,
        location: None,
    }
}

/// A cell as the tests expect it, whatever the file.
#[derive(Debug, Clone, PartialEq)]
enum V {
    /// A text cell.
    S(String),
    /// A time: `YYYY-MM-DD HH:MM` text in CSV, a date cell in xlsx.
    T(String),
    /// A number.
    N(i64),
    /// Empty.
    Nil,
}

fn s(text: &str) -> V {
    V::S(text.to_string())
}

fn t(ms: i64) -> V {
    V::T(local_text(ms))
}

/// What a CSV field holds for an expected cell.
fn csv_text(v: &V) -> String {
    match v {
        V::S(s) => {
            if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.clone()
            }
        }
        V::T(s) => s.clone(),
        V::N(n) => n.to_string(),
        V::Nil => String::new(),
    }
}

/// A CSV file: checks the BOM and parses the records (header first).
fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Reads a workbook with openpyxl (any warning is an error) into JSON: per sheet its title,
/// frozen pane, autofilter, header boldness, column widths and cells as `[type, value, …]`.
const OPENPYXL_DUMP: &str = r#"
import datetime, json, sys, warnings
warnings.simplefilter("error")
import openpyxl
from openpyxl.utils import get_column_letter
wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames, "tables": []}
for ws in wb.worksheets:
    rows = []
    for row in ws.iter_rows():
        cells = []
        for c in row:
            v = c.value
            if v is None:
                cells.append(None)
            elif isinstance(v, datetime.datetime):
                # Minutes are stored as binary fractions of a day: round to the nearest minute.
                v = (v + datetime.timedelta(seconds=30)).replace(second=0, microsecond=0)
                cells.append(["d", v.strftime("%Y-%m-%d %H:%M"), c.number_format])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(["n", v])
            else:
                cells.append(["s", str(v), c.data_type])
        rows.append(cells)
    out["tables"].append({
        "title": ws.title,
        "freeze": ws.freeze_panes,
        "filter": ws.auto_filter.ref,
        "bold": all(c.font.b for c in ws[1]),
        "widths": [ws.column_dimensions[get_column_letter(i + 1)].width for i in range(ws.max_column)],
        "rows": rows,
    })
print(json.dumps(out, ensure_ascii=False))
"#;

fn has_openpyxl() -> bool {
    Command::new("python3")
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn openpyxl_dump(path: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", OPENPYXL_DUMP])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openpyxl could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A sheet's rows from the openpyxl dump as expected cells (checking every time cell is a
/// real date with the ledger's format, and every text a string, never a formula).
fn sheet_rows(table: &serde_json::Value) -> Vec<Vec<V>> {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let mut cells: Vec<V> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    if c.is_null() {
                        return V::Nil;
                    }
                    match c[0].as_str().unwrap() {
                        "d" => {
                            assert_eq!(c[2], "yyyy-mm-dd hh:mm", "date cells show the minute");
                            V::T(c[1].as_str().unwrap().to_string())
                        }
                        "n" => {
                            let n = c[1].as_f64().unwrap();
                            assert_eq!(n.fract(), 0.0);
                            V::N(n as i64)
                        }
                        _ => {
                            assert_eq!(c[2], "s", "text is written as a string cell: {c}");
                            V::S(c[1].as_str().unwrap().to_string())
                        }
                    }
                })
                .collect();
            while cells.last() == Some(&V::Nil) {
                cells.pop();
            }
            cells
        })
        .collect()
}

/// Expected rows with trailing empty cells dropped (openpyxl has no cell there).
fn trimmed(rows: &[Vec<V>]) -> Vec<Vec<V>> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            while r.last() == Some(&V::Nil) {
                r.pop();
            }
            r
        })
        .collect()
}

fn header(cols: &[&str]) -> Vec<V> {
    cols.iter().map(|c| s(c)).collect()
}

const CASE_HEADERS: [&str; 20] = [
    "隐患编号",
    "发现时间",
    "社区",
    "网格",
    "场所名称",
    "地址",
    "场所类别",
    "隐患描述",
    "严重程度",
    "状态",
    "整改方式",
    "整改期限",
    "是否逾期",
    "派遣部门",
    "挂牌督办",
    "督办目标日期",
    "反复回潮(次)",
    "关联前案",
    "结案时间",
    "异常事件数",
];

const EVENT_HEADERS: [&str; 12] = [
    "隐患编号",
    "序号",
    "时间",
    "操作",
    "操作人",
    "角色",
    "设备",
    "说明",
    "证据照片(SHA-256)",
    "派遣部门",
    "期限",
    "标记",
];

struct Http {
    base: String,
    client: reqwest::blocking::Client,
}

impl Http {
    fn get(&self, path: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().unwrap().to_vec())
    }

    /// A 200 export's bytes.
    fn export(&self, path: &str, token: &str) -> Vec<u8> {
        let (status, _, body) = self.get(path, Some(token));
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        body
    }

    /// The hazard ids (first column) of a CSV export of the cases.
    fn ids(&self, query: &str, token: &str) -> BTreeSet<String> {
        let rows = parse_csv(&self.export(&format!("/v1/ledger.csv?{query}"), token));
        assert_eq!(rows[0], CASE_HEADERS, "{query}");
        rows[1..].iter().map(|r| r[0].clone()).collect()
    }

    /// The status and JSON error code of a refused request.
    fn refused(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let (status, headers, body) = self.get(path, token);
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/json",
            "{path}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, v["error"].as_str().unwrap().to_string())
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Copies every document of `from` into `to` in one commit (scopes and parents as stored).
fn copy_store(from: &dyn SyncStorage, to: &dyn SyncStorage) {
    let mut writes = Vec::new();
    for kind in RecordKind::ALL {
        for (id, scope) in from.list_docs(*kind).unwrap() {
            let stored = from.load_doc(&id).unwrap().unwrap();
            let mut doc = stored.to_automerge(&id).unwrap();
            writes.push(DocWrite {
                snapshot: None,
                record: None,
                parent: parent_of(*kind, &doc),
                changes: doc
                    .get_changes(&[])
                    .into_iter()
                    .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                    .collect(),
                doc: id,
                kind: *kind,
                scope,
                base: 0,
            });
        }
    }
    assert_eq!(
        to.commit("copy", &writes).unwrap(),
        CommitOutcome::Committed
    );
}

/// The older case, stored directly: found and filed in March 2025, listed by the district,
/// then "filed" again by a patroller (a role that may not file: the server would refuse it at
/// sync; the fold flags it). It recurs an earlier case.
fn old_case(premises: &Premises, gp: &User, office: &User) -> Hazard {
    let t0 = 1_741_568_400_000; // 2025-03-10 09:00 in Shanghai
    let ev = |id: &str, kind, by: &User, at_ms: i64, after: &[&str]| HazardEvent {
        id: id.to_string(),
        kind,
        by: by.id.clone(),
        device: "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b".into(),
        at_ms,
        note: None,
        after: after.iter().map(|a| a.to_string()).collect(),
        role: Some(by.role),
        scope: Some(by.scope.clone()),
        photos: Vec::new(),
        departments: Vec::new(),
        deadline_ms: None,
        level: None,
    };
    let mut filed = ev(
        "ev.old.2",
        HazardEventKind::Filed,
        office,
        t0 + 3_600_000,
        &["ev.old.1"],
    );
    filed.deadline_ms = Some(t0 + 7 * DAY_MS);
    filed.note = Some("限期七日整改".into());
    let mut listed = ev(
        "ev.old.3",
        HazardEventKind::Listed,
        office,
        t0 + DAY_MS,
        &["ev.old.2"],
    );
    listed.level = Some(SupervisionLevel::District);
    listed.deadline_ms = Some(t0 + 51 * DAY_MS + 8 * 3_600_000); // 2025-04-30 17:00
    listed.note = Some("反复回潮，报区级挂牌".into());
    let forged = ev(
        "ev.old.4",
        HazardEventKind::Filed,
        gp,
        t0 + 2 * DAY_MS,
        &["ev.old.3"],
    );
    Hazard {
        schema: 1,
        id: "hz.ledger.2025".into(),
        premises: premises.id.clone(),
        origin: HazardOrigin::default(),
        severity: Severity::General,
        title: Localized {
            zh: "电动自行车楼道内充电".into(),
            en: "e-bike charged in the stairwell".into(),
        },
        note: Some("@楼道 三辆".into()),
        photos: vec![photo("0a")],
        location: None,
        reported_by: gp.id.clone(),
        events: vec![
            forged,
            listed,
            filed,
            ev("ev.old.1", HazardEventKind::Discovered, gp, t0, &[]),
        ],
        elements: Vec::new(),
        recurrence_of: Some("hz.ledger.2024".into()),
        recurrence: 1,
    }
}

struct People<'a> {
    gp: &'a User,
    office: &'a User,
    dept: &'a User,
}

fn people(d: &District) -> People<'_> {
    let gp = d
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap();
    let office = d
        .users
        .iter()
        .find(|u| u.role == Role::StreetOffice)
        .unwrap();
    let dept = d
        .users
        .iter()
        .find(|u| u.role == Role::Department && u.scope.id == "dept.market")
        .unwrap();
    People { gp, office, dept }
}

fn name<'a>(list: &'a [(String, Localized)], id: &str) -> &'a str {
    &list.iter().find(|(i, _)| i == id).unwrap().1.zh
}

#[test]
fn the_ledger_is_exported_and_read_back_cell_by_cell() {
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let People { gp, office, dept } = people(&district);
    let shop = district
        .premises
        .iter()
        .find(|p| p.grid == gp.scope.id && p.category() == Category::StreetShop)
        .unwrap();
    let compound = district
        .premises
        .iter()
        .find(|p| p.community != shop.community && p.category() == Category::Residential)
        .unwrap();
    let communities: Vec<(String, Localized)> = district
        .communities
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let grids: Vec<(String, Localized)> = district
        .grids
        .iter()
        .map(|g| (g.id.clone(), g.name.clone()))
        .collect();
    let dept_name = |id: &str| {
        district
            .departments
            .iter()
            .find(|d| d.id == id)
            .unwrap()
            .name
            .zh
            .clone()
    };

    // The server, seeded with the sample street, and the older case stored directly.
    let server_dir = tempfile::tempdir().unwrap();
    let data = admin::open(server_dir.path()).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    for u in [gp, office, dept] {
        data.accounts.set_password(&u.id, PW, 0).unwrap();
    }
    let old = old_case(shop, gp, office);
    let mut doc = automerge::AutoCommit::new();
    autosurgeon::reconcile(&mut doc, &old).unwrap();
    firegrid_server::sync::seed_document(
        data.storage.as_ref(),
        &old.id,
        RecordKind::Hazard,
        &doc.save(),
    )
    .unwrap();
    let url = firegrid_server::serve::spawn_local(data.clone()).unwrap();
    let client = HttpClient::new(&url).unwrap();
    let started_ms = now_ms();

    // The patroller: an inspection with a failed item (hazard 1) and a direct report (hazard 2).
    let dir_a = tempfile::tempdir().unwrap();
    let (a, token_a) = phone(dir_a.path(), gp, &client);
    let insp = a.start_inspection(&shop.id, None).unwrap();
    let checklist = a
        .checklist(&insp.checklist, insp.checklist_version)
        .unwrap();
    let failed = insp
        .items
        .iter()
        .find(|i| checklist.item(i).unwrap().photo_required_on_fail)
        .unwrap()
        .clone();
    for item in &insp.items {
        let result = if *item == failed {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        a.answer(&insp.id, item, result, None).unwrap();
    }
    a.attach_photo(&insp.id, &failed, photo("ef")).unwrap();
    let h1 = a.finish_inspection(&insp.id, None).unwrap().hazards[0].clone();
    let h2 = a
        .report_hazard(NewHazard {
            premises: shop.id.clone(),
            description: "疏散通道堆放货物".into(),
            severity: Severity::Serious,
            photos: vec![photo("aa")],
            location: None,
        })
        .unwrap()
        .id;
    sync(&a, &client, &token_a);

    // The office files, dispatches to two departments and lists hazard 1; files hazard 2;
    // reports hazard 3 itself in another community (its text starts like a formula).
    let dir_b = tempfile::tempdir().unwrap();
    let (b, token_b) = phone(dir_b.path(), office, &client);
    sync(&b, &client, &token_b);
    let d1 = now_ms() + 10 * DAY_MS;
    let t1 = now_ms() + 30 * DAY_MS;
    b.hazard_action(
        &h1,
        HazardAction::File {
            deadline_ms: Some(d1),
            note: Some("限期十日整改".into()),
        },
    )
    .unwrap();
    b.hazard_action(
        &h1,
        HazardAction::Dispatch {
            departments: vec!["dept.enforcement".into(), "dept.market".into()],
            note: Some("联合整治".into()),
        },
    )
    .unwrap();
    b.hazard_action(
        &h1,
        HazardAction::List {
            level: SupervisionLevel::Street,
            reason: "群众反映强烈".into(),
            target_ms: t1,
        },
    )
    .unwrap();
    let h2_deadline = b
        .hazard_action(
            &h2,
            HazardAction::File {
                deadline_ms: None,
                note: None,
            },
        )
        .unwrap()
        .state
        .deadline_ms
        .unwrap();
    let h3 = b
        .report_hazard(NewHazard {
            premises: compound.id.clone(),
            description: "=1+1 楼道堆放杂物".into(),
            severity: Severity::General,
            photos: Vec::new(),
            location: None,
        })
        .unwrap()
        .id;
    sync(&b, &client, &token_b);

    // The patroller reports the fix of hazard 2; the market office reports on hazard 1.
    sync(&a, &client, &token_a);
    a.hazard_action(
        &h2,
        HazardAction::ReportFix {
            photos: vec![photo("bb")],
            note: Some("已清理通道".into()),
        },
    )
    .unwrap();
    sync(&a, &client, &token_a);
    let dir_c = tempfile::tempdir().unwrap();
    let (c, token_c) = phone(dir_c.path(), dept, &client);
    sync(&c, &client, &token_c);
    c.hazard_action(
        &h1,
        HazardAction::ReportHandling {
            photos: vec![photo("cd")],
            note: "已责令整改".into(),
        },
    )
    .unwrap();
    sync(&c, &client, &token_c);

    // The office verifies and closes hazard 2.
    sync(&b, &client, &token_b);
    b.hazard_action(
        &h2,
        HazardAction::Verify {
            photos: vec![photo("dd")],
            note: Some("现场复核合格".into()),
        },
    )
    .unwrap();
    let closed_ms = b
        .hazard_action(&h2, HazardAction::Close { note: None })
        .unwrap()
        .state
        .closed_ms
        .unwrap();
    sync(&b, &client, &token_b);

    // What the ledger must say, from the records the phones hold.
    let rec1 = b.hazard(&h1).unwrap();
    let rec2 = b.hazard(&h2).unwrap();
    let rec3 = b.hazard(&h3).unwrap();
    let at =
        |h: &Hazard, kind: HazardEventKind| h.events.iter().find(|e| e.kind == kind).unwrap().at_ms;
    let shop_row = |h: &str, at_ms: i64| {
        vec![
            s(h),
            t(at_ms),
            s(name(&communities, &shop.community)),
            s(name(&grids, &shop.grid)),
            s(&shop.name),
            s(&shop.address),
            s("沿街商铺及小型场所"),
        ]
    };
    let mut case1 = shop_row(&h1, at(&rec1, HazardEventKind::Discovered));
    case1.extend([
        s(&rec1.title.zh),
        s(&rec1.severity.label().zh),
        s("派遣"),
        s("限期整改"),
        t(d1),
        s("否"),
        V::S(format!(
            "{};{}",
            dept_name("dept.enforcement"),
            dept_name("dept.market")
        )),
        s("街道挂牌督办"),
        t(t1),
        V::N(0),
        V::Nil,
        V::Nil,
        V::N(0),
    ]);
    let mut case2 = shop_row(&h2, at(&rec2, HazardEventKind::Discovered));
    case2.extend([
        s("疏散通道堆放货物"),
        s("较大隐患"),
        s("结案"),
        s("限期整改"),
        t(h2_deadline),
        s("否"),
        V::Nil,
        V::Nil,
        V::Nil,
        V::N(0),
        V::Nil,
        t(closed_ms),
        V::N(0),
    ]);
    let case3 = vec![
        s(&h3),
        t(at(&rec3, HazardEventKind::Discovered)),
        s(name(&communities, &compound.community)),
        s(name(&grids, &compound.grid)),
        s(&compound.name),
        s(&compound.address),
        s("住宅小区"),
        s("=1+1 楼道堆放杂物"),
        s("一般隐患"),
        s("发现"),
        V::Nil,
        V::Nil,
        s("否"),
        V::Nil,
        V::Nil,
        V::Nil,
        V::N(0),
        V::Nil,
        V::Nil,
        V::N(0),
    ];
    let mut case4 = shop_row(&old.id, 1_741_568_400_000);
    assert_eq!(case4[1], s("2025-03-10 09:00").to_t());
    case4.extend([
        s("电动自行车楼道内充电"),
        s("一般隐患"),
        s("立案"),
        s("限期整改"),
        V::T("2025-03-17 09:00".into()),
        s("是"),
        V::Nil,
        s("区级挂牌督办"),
        V::T("2025-04-30 17:00".into()),
        V::N(1),
        s("hz.ledger.2024"),
        V::Nil,
        V::N(1),
    ]);
    let office_role = "街道消防安全办公室";
    let ev = |h: &str, n: i64, at_ms: i64, action: &str, by: &User, role: &str, device: &str| {
        vec![
            s(h),
            V::N(n),
            t(at_ms),
            s(action),
            s(&by.name),
            s(role),
            s(device),
        ]
    };
    let with = |mut row: Vec<V>, rest: [V; 5]| {
        row.extend(rest);
        row
    };
    let nil5 = || [V::Nil, V::Nil, V::Nil, V::Nil, V::Nil];
    let (dev_a, dev_b, dev_c) = (a.device_id(), b.device_id(), c.device_id());
    let events1 = vec![
        with(
            ev(
                &h1,
                1,
                at(&rec1, HazardEventKind::Discovered),
                "发现",
                gp,
                "网格员",
                dev_a,
            ),
            [V::Nil, V::S("ef".repeat(32)), V::Nil, V::Nil, V::Nil],
        ),
        with(
            ev(
                &h1,
                2,
                at(&rec1, HazardEventKind::Filed),
                "立案",
                office,
                office_role,
                dev_b,
            ),
            [s("限期十日整改"), V::Nil, V::Nil, t(d1), V::Nil],
        ),
        with(
            ev(
                &h1,
                3,
                at(&rec1, HazardEventKind::Dispatched),
                "派遣",
                office,
                office_role,
                dev_b,
            ),
            [
                s("联合整治"),
                V::Nil,
                V::S(format!(
                    "{};{}",
                    dept_name("dept.enforcement"),
                    dept_name("dept.market")
                )),
                V::Nil,
                V::Nil,
            ],
        ),
        with(
            ev(
                &h1,
                4,
                at(&rec1, HazardEventKind::Listed),
                "挂牌督办（街道挂牌督办）",
                office,
                office_role,
                dev_b,
            ),
            [s("群众反映强烈"), V::Nil, V::Nil, t(t1), V::Nil],
        ),
        with(
            ev(
                &h1,
                5,
                at(&rec1, HazardEventKind::Handled),
                "部门处置报告",
                dept,
                "成员单位",
                dev_c,
            ),
            [
                s("已责令整改"),
                V::S("cd".repeat(32)),
                V::Nil,
                V::Nil,
                V::Nil,
            ],
        ),
    ];
    let events2 = vec![
        with(
            ev(
                &h2,
                1,
                at(&rec2, HazardEventKind::Discovered),
                "发现",
                gp,
                "网格员",
                dev_a,
            ),
            [V::Nil, V::S("aa".repeat(32)), V::Nil, V::Nil, V::Nil],
        ),
        with(
            ev(
                &h2,
                2,
                at(&rec2, HazardEventKind::Filed),
                "立案",
                office,
                office_role,
                dev_b,
            ),
            [V::Nil, V::Nil, V::Nil, t(h2_deadline), V::Nil],
        ),
        with(
            ev(
                &h2,
                3,
                at(&rec2, HazardEventKind::FixReported),
                "整改报告",
                gp,
                "网格员",
                dev_a,
            ),
            [
                s("已清理通道"),
                V::S("bb".repeat(32)),
                V::Nil,
                V::Nil,
                V::Nil,
            ],
        ),
        with(
            ev(
                &h2,
                4,
                at(&rec2, HazardEventKind::Verified),
                "核查通过",
                office,
                office_role,
                dev_b,
            ),
            [
                s("现场复核合格"),
                V::S("dd".repeat(32)),
                V::Nil,
                V::Nil,
                V::Nil,
            ],
        ),
        with(
            ev(&h2, 5, closed_ms, "结案", office, office_role, dev_b),
            nil5(),
        ),
    ];
    let events3 = vec![with(
        ev(
            &h3,
            1,
            at(&rec3, HazardEventKind::Discovered),
            "发现",
            office,
            office_role,
            dev_b,
        ),
        nil5(),
    )];
    let old_dev = "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b";
    let events4 = vec![
        with(
            ev(&old.id, 1, 1_741_568_400_000, "发现", gp, "网格员", old_dev),
            [
                s("@楼道 三辆"),
                V::S("0a".repeat(32)),
                V::Nil,
                V::Nil,
                V::Nil,
            ],
        ),
        with(
            ev(
                &old.id,
                2,
                1_741_572_000_000,
                "立案",
                office,
                office_role,
                old_dev,
            ),
            [
                s("限期七日整改"),
                V::Nil,
                V::Nil,
                V::T("2025-03-17 09:00".into()),
                V::Nil,
            ],
        ),
        with(
            ev(
                &old.id,
                3,
                1_741_568_400_000 + DAY_MS,
                "挂牌督办（区级挂牌督办）",
                office,
                office_role,
                old_dev,
            ),
            [
                s("反复回潮，报区级挂牌"),
                V::Nil,
                V::Nil,
                V::T("2025-04-30 17:00".into()),
                V::Nil,
            ],
        ),
        with(
            ev(
                &old.id,
                4,
                1_741_568_400_000 + 2 * DAY_MS,
                "立案",
                gp,
                "网格员",
                old_dev,
            ),
            [V::Nil, V::Nil, V::Nil, V::Nil, s("该角色无权进行此操作")],
        ),
    ];
    // Cases by discovery time, then id; their histories in the same order.
    let mut expected = vec![
        (
            at(&rec1, HazardEventKind::Discovered),
            h1.clone(),
            case1,
            events1,
        ),
        (
            at(&rec2, HazardEventKind::Discovered),
            h2.clone(),
            case2,
            events2,
        ),
        (
            at(&rec3, HazardEventKind::Discovered),
            h3.clone(),
            case3,
            events3,
        ),
        (1_741_568_400_000, old.id.clone(), case4, events4),
    ];
    expected.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
    let mut cases = vec![header(&CASE_HEADERS)];
    let mut events = vec![header(&EVENT_HEADERS)];
    for (_, _, c, e) in &expected {
        cases.push(c.clone());
        events.extend(e.iter().cloned());
    }

    let http = Http {
        base: url,
        client: reqwest::blocking::Client::new(),
    };

    // CSV over HTTP: both tables, cell by cell.
    let (status, headers, body) = http.get("/v1/ledger.csv", Some(&token_b));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap().to_string();
    let today = |ms: i64| local_text(ms)[..10].replace('-', "");
    assert!(
        [today(started_ms), today(now_ms())]
            .iter()
            .any(|d| disposition
                == format!("attachment; filename=\"firegrid-ledger-cases-{d}.csv\"")),
        "{disposition}"
    );
    let as_csv = |rows: &[Vec<V>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(csv_text).collect())
            .collect()
    };
    assert_eq!(parse_csv(&body), as_csv(&cases));
    let events_csv = http.export("/v1/ledger.csv?table=events", &token_b);
    assert_eq!(parse_csv(&events_csv), as_csv(&events));
    // The formula-like texts are defused in CSV.
    let raw = String::from_utf8(body).unwrap();
    assert!(raw.contains(",'=1+1 楼道堆放杂物,"), "{raw}");

    // xlsx over HTTP.
    let (status, headers, xlsx) = http.get("/v1/ledger.xlsx", Some(&token_b));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xlsx));
    assert_eq!(headers["content-type"], XLSX_TYPE);
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        [today(started_ms), today(now_ms())]
            .iter()
            .any(|d| disposition == format!("attachment; filename=\"firegrid-ledger-{d}.xlsx\"")),
        "{disposition}"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let http_xlsx = out_dir.path().join("http.xlsx");
    std::fs::write(&http_xlsx, &xlsx).unwrap();
    let openpyxl = has_openpyxl();
    let mut http_dump = None;
    if openpyxl {
        let dump = openpyxl_dump(&http_xlsx);
        assert_eq!(dump["sheets"], serde_json::json!(["隐患台账", "处置记录"]));
        for (i, (expected_rows, cols)) in [(&cases, "T"), (&events, "L")].into_iter().enumerate() {
            let sheet = &dump["tables"][i];
            assert_eq!(sheet["freeze"], "A2", "the header row is frozen");
            assert_eq!(
                sheet["filter"],
                format!("A1:{cols}{}", expected_rows.len()),
                "an autofilter over the table"
            );
            assert_eq!(sheet["bold"], true, "bold headers");
            assert!(
                sheet["widths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|w| w.as_f64().unwrap() >= 6.0),
                "every column has a width"
            );
            assert_eq!(sheet_rows(sheet), trimmed(expected_rows), "sheet {i}");
        }
        http_dump = Some(dump);
    } else {
        eprintln!(
            "SKIPPED ledger xlsx read-back: python3 with openpyxl is not installed \
             (pip install openpyxl; .ci/run installs it)"
        );
    }

    // English: headers and labels.
    let en = parse_csv(&http.export(
        "/v1/ledger.csv?table=events&lang=en&status=closed",
        &token_b,
    ));
    assert_eq!(
        en[0],
        [
            "Hazard ID",
            "No.",
            "Time",
            "Action",
            "By",
            "Role",
            "Device",
            "Note",
            "Evidence photos (SHA-256)",
            "Departments",
            "Deadline",
            "Flag"
        ]
    );
    let actions: Vec<&str> = en[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        actions,
        ["discovered", "filed", "fix reported", "verified", "closed"]
    );
    assert_eq!(en[2][5], "street fire-safety office");
    let en_cases = parse_csv(&http.export("/v1/ledger.csv?lang=en&supervision=district", &token_b));
    assert_eq!(en_cases[0][0], "Hazard ID");
    assert_eq!(
        (
            en_cases[1][9].as_str(),
            en_cases[1][12].as_str(),
            en_cases[1][14].as_str()
        ),
        ("filed", "yes", "listed by the district")
    );

    // Filters select the right cases.
    let all = set(&[&h1, &h2, &h3, &old.id]);
    assert_eq!(http.ids("", &token_b), all);
    for (query, want) in [
        (
            format!("community={}", shop.community),
            set(&[&h1, &h2, &old.id]),
        ),
        (format!("community={}", compound.community), set(&[&h3])),
        ("status=dispatched".to_string(), set(&[&h1])),
        ("status=closed".to_string(), set(&[&h2])),
        ("status=discovered".to_string(), set(&[&h3])),
        ("status=filed".to_string(), set(&[&old.id])),
        ("supervision=street".to_string(), set(&[&h1])),
        ("supervision=district".to_string(), set(&[&old.id])),
        ("category=residential".to_string(), set(&[&h3])),
        (
            "category=street_shop".to_string(),
            set(&[&h1, &h2, &old.id]),
        ),
        ("category=large_site".to_string(), set(&[])),
        ("from=2025-03-01&to=2025-03-31".to_string(), set(&[&old.id])),
        ("from=2025-03-12&to=2025-03-12".to_string(), set(&[&old.id])),
        ("from=2025-03-13&to=2025-03-31".to_string(), set(&[])),
        ("to=2025-03-09".to_string(), set(&[])),
        (
            format!(
                "from={}&to={}",
                &local_text(started_ms)[..10],
                &local_text(now_ms())[..10]
            ),
            set(&[&h1, &h2, &h3]),
        ),
        (
            format!(
                "community={}&status=closed&category=street_shop",
                shop.community
            ),
            set(&[&h2]),
        ),
        ("community=&status=".to_string(), all),
    ] {
        assert_eq!(http.ids(&query, &token_b), want, "{query}");
    }
    let closed_events =
        parse_csv(&http.export("/v1/ledger.csv?table=events&status=closed", &token_b));
    assert_eq!(closed_events.len(), 1 + 5);
    assert!(closed_events[1..].iter().all(|r| r[0] == h2));

    // Who may export, and bad parameters.
    for path in ["/v1/ledger.xlsx", "/v1/ledger.csv?table=events"] {
        assert_eq!(http.refused(path, None), (401, "unauthorized".into()));
        assert_eq!(
            http.refused(path, Some(&token_a)),
            (403, "forbidden".into())
        );
        assert_eq!(
            http.refused(path, Some(&token_c)),
            (403, "forbidden".into())
        );
    }
    assert_eq!(
        http.refused("/v1/ledger.csv?status=nonsense", Some(&token_a)),
        (403, "forbidden".into()),
        "who asks is checked before what is asked"
    );
    for bad in [
        "status=open",
        "status=CLOSED",
        "category=shop",
        "supervision=city",
        "from=2026-02-30",
        "from=2026-11-30T00:00",
        "from=1764460800000",
        "to=2026-13-01",
        "from=2026-12-01&to=2026-11-30",
        "community=com.99",
        "community=bad%20id",
        "lang=fr",
        "table=all",
        "colour=red",
        "status=closed&status=filed",
    ] {
        for route in ["ledger.csv", "ledger.xlsx"] {
            assert_eq!(
                http.refused(&format!("/v1/{route}?{bad}"), Some(&token_b)),
                (400, "bad_request".into()),
                "{route}?{bad}"
            );
        }
    }

    // The admin subcommand exports the same ledger as the whole street.
    let bin = env!("CARGO_BIN_EXE_firegrid-server");
    let cli_xlsx = out_dir.path().join("cli.xlsx");
    let out = Command::new(bin)
        .args(["ledger", "--data-dir"])
        .arg(server_dir.path())
        .arg("--out")
        .arg(&cli_xlsx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("wrote 4 cases and 15 events"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    if let Some(http_dump) = &http_dump {
        assert_eq!(&openpyxl_dump(&cli_xlsx), http_dump, "the same workbook");
    }
    let cli_csv = out_dir.path().join("closed-events.csv");
    let out = Command::new(bin)
        .args(["ledger", "--data-dir"])
        .arg(server_dir.path())
        .arg("--out")
        .arg(&cli_csv)
        .args(["--table", "events", "--lang", "en", "--status", "closed"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&cli_csv).unwrap(),
        http.export(
            "/v1/ledger.csv?table=events&lang=en&status=closed",
            &token_b
        ),
        "CSV chosen from the file name; the same bytes as over HTTP"
    );
    let out = Command::new(bin)
        .args(["ledger", "--data-dir"])
        .arg(server_dir.path())
        .arg("--out")
        .arg(out_dir.path().join("x.csv"))
        .args(["--status", "open"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid status"));
    assert!(!out_dir.path().join("x.csv").exists(), "nothing written");
    let out = Command::new(bin)
        .args(["ledger", "--data-dir"])
        .arg(out_dir.path().join("no-such-server"))
        .arg("--out")
        .arg(out_dir.path().join("y.xlsx"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !out_dir.path().join("no-such-server").exists(),
        "no data folder is created"
    );

    // LibreOffice opens it, where it is installed.
    let soffice = ["soffice", "libreoffice"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    match soffice {
        Some(bin) => {
            let conv = out_dir.path().join("lo");
            let out = Command::new(bin)
                .args(["--headless", "--convert-to", "csv", "--outdir"])
                .arg(&conv)
                .arg(&http_xlsx)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = std::fs::read_to_string(conv.join("http.csv")).unwrap();
            assert!(text.contains("隐患编号") && text.contains(&h1), "{text}");
        }
        None => eprintln!(
            "SKIPPED ledger LibreOffice check: neither soffice nor libreoffice is on PATH"
        ),
    }

    // The same ledger from every store: SQLite (the server's), memory, PostgreSQL.
    let viewer = User {
        id: "ledger-test".into(),
        name: "ledger test".into(),
        role: Role::Admin,
        scope: Scope::new(ScopeKind::Street, "street.zhenru"),
    };
    let now = now_ms();
    let filters = [
        LedgerFilter::default(),
        LedgerFilter {
            community: Some(shop.community.clone()),
            ..LedgerFilter::default()
        },
    ];
    let from_sqlite: Vec<_> = filters
        .iter()
        .map(|f| ledger::collect(data.storage.as_ref(), &viewer, f, now).unwrap())
        .collect();
    assert_eq!(from_sqlite[0].cases.len(), 4);
    assert_eq!(from_sqlite[1].cases.len(), 3);
    let memory = MemoryStorage::new();
    copy_store(data.storage.as_ref(), &memory);
    let mut stores: Vec<(&str, Arc<dyn SyncStorage>)> = vec![("memory", Arc::new(memory))];
    let schema = firegrid_server::pg::TestSchema::create("ledger on PostgreSQL");
    if let Some(schema) = &schema {
        let pool = firegrid_server::pg::PgPool::with_config(schema.config(), 2).unwrap();
        let pg = firegrid_server::sync::postgres::PgStorage::open(Arc::new(pool)).unwrap();
        copy_store(data.storage.as_ref(), &pg);
        stores.push(("postgres", Arc::new(pg)));
    }
    for (name, store) in &stores {
        for kind in [RecordKind::Hazard, RecordKind::Premises, RecordKind::User] {
            assert_eq!(
                store.list_docs(kind).unwrap(),
                data.storage.list_docs(kind).unwrap(),
                "{name}: {kind}"
            );
        }
        for (f, want) in filters.iter().zip(&from_sqlite) {
            assert_eq!(
                &ledger::collect(store.as_ref(), &viewer, f, now).unwrap(),
                want,
                "{name}"
            );
        }
    }
    // A grid patroller's view holds only their grid's cases (the library serves any viewer).
    let mine = ledger::collect(data.storage.as_ref(), gp, &LedgerFilter::default(), now).unwrap();
    assert_eq!(
        mine.cases
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>(),
        set(&[&h1, &h2, &old.id])
    );
}

impl V {
    fn text(&self) -> String {
        match self {
            V::S(s) | V::T(s) => s.clone(),
            V::N(n) => n.to_string(),
            V::Nil => String::new(),
        }
    }

    fn to_t(&self) -> V {
        V::T(self.text())
    }
}
