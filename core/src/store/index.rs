//! Query columns materialised from documents. `materialize` is the one place that turns a
//! document into rows; every write and every rebuild goes through it, so the rows can always be
//! regenerated from the documents (`reindex_all`) and checked against them (`verify_all`).

use automerge::AutoCommit;
use rusqlite::{Transaction, params};

use super::VerifyReport;
use super::record::{self, RecordKind};
use crate::access::User;
use crate::checklist::Checklist;
use crate::district::{Community, Department, Grid, KeyResident, MicroStation, Street};
use crate::hazard::Hazard;
use crate::inspection::{AnswerResult, Inspection};
use crate::premises::Premises;
use crate::standard::Standard;
use crate::{Error, Result};

/// `,a,b,` so that `LIKE '%,a,%'` matches exactly one element.
pub(crate) fn tag_list<'a>(tags: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(",");
    for t in tags {
        out.push_str(t);
        out.push(',');
    }
    if out == "," { String::new() } else { out }
}

fn org_unit(
    tx: &Transaction<'_>,
    id: &str,
    kind: &str,
    parent: Option<&str>,
    name: &crate::vocab::Localized,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO org_unit(id, kind, parent_id, name_zh, name_en) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(
        params![id, kind, parent, name.zh, name.en],
    )?;
    Ok(())
}

/// A record hydrated from its document: what [`write_rows`] turns into query rows. Hydrating
/// touches no database, so many documents can be hydrated in parallel before their rows are
/// written in one transaction.
pub(crate) use crate::hydrate::Record as Hydrated;

/// The record of one document, as its kind ([`Error::CorruptRecord`] if it is not one).
pub(crate) fn hydrate_record(kind: RecordKind, id: &str, doc: &AutoCommit) -> Result<Hydrated> {
    Hydrated::read(kind, doc).map_err(|p| Error::corrupt(id, p))
}

/// Writes the query rows of one record from its document (replacing old rows).
pub(crate) fn materialize(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    doc: &AutoCommit,
) -> Result<()> {
    write_rows(tx, id, &hydrate_record(kind, id, doc)?)
}

/// Writes the query rows of one hydrated record (replacing old rows).
pub(crate) fn write_rows(tx: &Transaction<'_>, id: &str, record: &Hydrated) -> Result<()> {
    match record {
        Hydrated::Street(s) => {
            org_unit(tx, id, "street", None, &s.name)?;
            super::hazards::save_rules(tx, s.hazard_rules.as_ref())
        }
        Hydrated::Community(c) => org_unit(tx, id, "community", None, &c.name),
        Hydrated::Grid(g) => org_unit(tx, id, "grid", Some(&g.community), &g.name),
        Hydrated::MicroStation(s) => {
            org_unit(tx, id, "station", None, &s.name)?;
            tx.execute("DELETE FROM station_community WHERE station_id = ?1", [id])?;
            for c in &s.communities {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO station_community(station_id, community_id) VALUES (?1, ?2)",
                )?
                .execute(params![id, c])?;
            }
            Ok(())
        }
        Hydrated::Department(d) => org_unit(tx, id, "department", None, &d.name),
        Hydrated::User(u) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO user_account(id, role, scope_kind, scope_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, u.role.as_str(), u.scope.kind.as_str(), u.scope.id])?;
            Ok(())
        }
        Hydrated::KeyResident(r) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO key_resident(id, community_id, premises_id, living_status) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, r.community, r.premises, r.living_status.as_str()])?;
            Ok(())
        }
        Hydrated::Premises(p) => premises_row(tx, id, p),
        Hydrated::Checklist(c) => checklist_rows(tx, id, c),
        Hydrated::Standard(s) => {
            tx.execute("DELETE FROM standard_element WHERE record_id = ?1", [id])?;
            for e in &s.elements {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO standard_element(standard_version, code, record_id, kind, group_id)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![s.version, e.code, id, e.kind.as_str(), e.group])?;
            }
            Ok(())
        }
        Hydrated::Inspection(i) => inspection_row(tx, id, i),
        Hydrated::Hazard(h) => hazard_row(tx, id, h),
    }
}

pub(crate) fn premises_row(tx: &Transaction<'_>, id: &str, p: &Premises) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO premises(id, kind, category, community_id, grid_id, subtypes, name, address, lat, lon)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(
        params![
            id,
            p.kind.as_str(),
            p.category().as_str(),
            p.community,
            p.grid,
            tag_list(p.subtypes.iter().map(|s| s.as_str())),
            p.name,
            p.address,
            p.location.map(|l| l.lat),
            p.location.map(|l| l.lon),
        ],
    )?;
    Ok(())
}

fn checklist_rows(tx: &Transaction<'_>, record_id: &str, c: &Checklist) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO checklist(id, version, record_id, category, applies_to) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(
        params![
            c.id,
            c.version,
            record_id,
            c.category.as_str(),
            tag_list(c.applies_to.iter().map(|k| k.as_str()))
        ],
    )?;
    tx.prepare_cached("DELETE FROM checklist_item WHERE checklist_id = ?1 AND version = ?2")?
        .execute(params![c.id, c.version])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO checklist_item(checklist_id, version, position, item_id, group_id, severity,
                                    photo_required_on_fail, required, only_for)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (pos, item) in c.items.iter().enumerate() {
        stmt.execute(params![
            c.id,
            c.version,
            pos as i64,
            item.id,
            item.group,
            item.severity.as_str(),
            item.photo_required_on_fail,
            item.required,
            tag_list(item.only_for.iter().map(String::as_str)),
        ])?;
    }
    Ok(())
}

pub(crate) fn inspection_row(tx: &Transaction<'_>, id: &str, i: &Inspection) -> Result<()> {
    let (answered, failed) = i.counts();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO inspection(id, premises_id, checklist_id, checklist_version, inspector_id,
                                           status, started_ms, finished_ms, items, answered, failed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(
        params![
            id,
            i.premises,
            i.checklist,
            i.checklist_version,
            i.inspector,
            i.status.as_str(),
            i.started_at_ms,
            i.finished_at_ms,
            i.items.len() as i64,
            answered,
            failed
        ],
    )?;
    Ok(())
}

/// Moves an inspection row's answered / failed counts after one answer changed from `old` to
/// `new` (the same numbers `Inspection::counts` gives; `verify_all` checks they agree).
pub(crate) fn answer_counts(
    tx: &Transaction<'_>,
    id: &str,
    old: Option<AnswerResult>,
    new: Option<AnswerResult>,
) -> Result<()> {
    let answered = |r: Option<AnswerResult>| i64::from(r.is_some());
    let failed = |r: Option<AnswerResult>| i64::from(r == Some(AnswerResult::Fail));
    tx.prepare_cached(
        "UPDATE inspection SET answered = answered + ?2, failed = failed + ?3 WHERE id = ?1",
    )?
    .execute(params![
        id,
        answered(new) - answered(old),
        failed(new) - failed(old)
    ])?;
    Ok(())
}

pub(crate) fn hazard_row(tx: &Transaction<'_>, id: &str, h: &Hazard) -> Result<()> {
    let state = super::hazards::fold_case(tx, h)?;
    hazard_row_folded(tx, id, h, &state)
}

/// [`hazard_row`] for a hazard whose case the caller has just folded (no second fold).
pub(crate) fn hazard_row_folded(
    tx: &Transaction<'_>,
    id: &str,
    h: &Hazard,
    state: &crate::hazard::CaseState,
) -> Result<()> {
    let list = |items: &[String]| {
        if items.is_empty() {
            String::new()
        } else {
            format!(",{},", items.join(","))
        }
    };
    let ignored = state.flags.iter().filter(|f| f.reason.ignored()).count();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO hazard(id, premises_id, inspection_id, item_id, status, severity,
                                       title_zh, title_en, discovered_ms, mode, deadline_ms,
                                       departments, reported, supervision, listing_target_ms,
                                       recurrence, recurrence_of, elements, flags, closed_ms,
                                       reopened)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21)",
    )?
    .execute(params![
        id,
        h.premises,
        h.origin.inspection,
        h.origin.item,
        state.status.as_str(),
        h.severity.as_str(),
        h.title.zh,
        h.title.en,
        state.discovered_ms,
        state.mode.map(|m| m.as_str()),
        state.deadline_ms,
        list(&state.departments),
        list(&state.reported),
        state.listed().map(|l| l.as_str()),
        state
            .listing
            .as_ref()
            .filter(|l| l.delisted_ms.is_none())
            .map(|l| l.target_ms),
        h.recurrence,
        h.recurrence_of,
        list(&h.elements),
        ignored as i64,
        state.closed_ms,
        state.reopened,
    ])?;
    Ok(())
}

/// Every query table rebuilt from `record`. Returns the number of records indexed.
pub(crate) fn reindex_all(tx: &Transaction<'_>) -> Result<u64> {
    for table in [
        "station_community",
        "checklist_item",
        "checklist",
        "standard_element",
        "org_unit",
        "user_account",
        "key_resident",
        "premises",
        "inspection",
        "hazard",
    ] {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    let mut n = 0;
    for_each_record(tx, |kind, id, doc, _| {
        materialize(tx, kind, id, doc)?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Calls `f` with every record's kind, id, loaded document and stored `heads` column.
fn for_each_record(
    tx: &Transaction<'_>,
    mut f: impl FnMut(RecordKind, &str, &mut AutoCommit, &str) -> Result<()>,
) -> Result<()> {
    let mut stmt = tx.prepare("SELECT id, kind, doc, heads FROM record ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let kind: String = row.get(1)?;
        let bytes: Vec<u8> = row.get(2)?;
        let heads: String = row.get(3)?;
        let kind: RecordKind = kind
            .parse()
            .map_err(|_| Error::corrupt(&id, format!("unknown record kind {kind:?}")))?;
        let mut doc = AutoCommit::load(&bytes).map_err(|e| Error::corrupt(&id, e))?;
        f(kind, &id, &mut doc, &heads)?;
    }
    Ok(())
}

/// Checks that every document loads, hydrates into its kind, and that the query rows equal
/// what `materialize` would write. Runs inside a read transaction: uses a savepoint-free
/// comparison by re-deriving the rows in a temporary in-memory copy.
pub(crate) fn verify_all(tx: &Transaction<'_>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    for_each_record(tx, |kind, id, doc, heads| {
        // Sync decides from these stored heads alone that received changes are already held.
        if record::heads_text(doc) != heads {
            return Err(Error::corrupt(
                id,
                "the stored heads differ from the document's",
            ));
        }
        verify_one(tx, kind, id, doc)?;
        report.records += 1;
        Ok(())
    })?;
    Ok(report)
}

fn verify_one(tx: &Transaction<'_>, kind: RecordKind, id: &str, doc: &AutoCommit) -> Result<()> {
    let mismatch =
        |what: &str| Error::corrupt(id, format!("query row differs from the document: {what}"));
    match kind {
        RecordKind::Inspection => {
            let i: Inspection = record::hydrate(id, doc)?;
            let (answered, failed) = i.counts();
            let row: (String, String, i64, i64) = tx
                .query_row(
                    "SELECT premises_id, status, answered, failed FROM inspection WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(|_| mismatch("no inspection row"))?;
            if row
                != (
                    i.premises.clone(),
                    i.status.as_str().to_string(),
                    i64::from(answered),
                    i64::from(failed),
                )
            {
                return Err(mismatch("inspection"));
            }
        }
        RecordKind::Hazard => {
            let h: Hazard = record::hydrate(id, doc)?;
            let row: (String, String) = tx
                .query_row(
                    "SELECT premises_id, status FROM hazard WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(|_| mismatch("no hazard row"))?;
            let status = super::hazards::fold_case(tx, &h)?.status;
            if row.0 != h.premises || row.1 != status.as_str() {
                return Err(mismatch("hazard"));
            }
        }
        RecordKind::Premises => {
            let p: Premises = record::hydrate(id, doc)?;
            let row: (String, String, String) = tx
                .query_row(
                    "SELECT grid_id, name, address FROM premises WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(|_| mismatch("no premises row"))?;
            if (row.0.as_str(), row.1.as_str(), row.2.as_str())
                != (p.grid.as_str(), p.name.as_str(), p.address.as_str())
            {
                return Err(mismatch("premises"));
            }
        }
        RecordKind::Checklist => {
            let c: Checklist = record::hydrate(id, doc)?;
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM checklist_item WHERE checklist_id = ?1 AND version = ?2",
                params![c.id, c.version],
                |r| r.get(0),
            )?;
            if n != c.items.len() as i64 {
                return Err(mismatch("checklist items"));
            }
        }
        RecordKind::Standard => {
            let _: Standard = record::hydrate(id, doc)?;
        }
        RecordKind::User => {
            let _: User = record::hydrate(id, doc)?;
        }
        RecordKind::KeyResident => {
            let _: KeyResident = record::hydrate(id, doc)?;
        }
        RecordKind::Street => {
            let _: Street = record::hydrate(id, doc)?;
        }
        RecordKind::Community => {
            let _: Community = record::hydrate(id, doc)?;
        }
        RecordKind::Grid => {
            let _: Grid = record::hydrate(id, doc)?;
        }
        RecordKind::MicroStation => {
            let _: MicroStation = record::hydrate(id, doc)?;
        }
        RecordKind::Department => {
            let _: Department = record::hydrate(id, doc)?;
        }
    }
    Ok(())
}
