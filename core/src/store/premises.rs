//! Reading premises: one record, or a list within a scope with filters (category, kind,
//! community, grid, subtype, text in name or address), from the query columns alone.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction};

use super::Store;
use super::record::{self, RecordKind};
use crate::access::{Scope, ScopeKind};
use crate::premises::{Premises, PremisesFilter, PremisesSummary};
use crate::vocab::validate_id;
use crate::{Error, Result};

/// Default and largest page of a list.
pub(crate) const DEFAULT_LIMIT: u32 = 200;
pub(crate) const MAX_LIMIT: u32 = 5_000;

/// The SQL condition (on table alias `p`) and parameters restricting premises to a scope.
/// A department's scope is street-wide: departments act on what is dispatched to them anywhere.
pub(crate) fn scope_condition(scope: &Scope) -> (&'static str, Vec<Value>) {
    match scope.kind {
        ScopeKind::Street | ScopeKind::Department => ("1 = 1", vec![]),
        ScopeKind::Community => ("p.community_id = ?", vec![Value::Text(scope.id.clone())]),
        ScopeKind::Grid => ("p.grid_id = ?", vec![Value::Text(scope.id.clone())]),
        ScopeKind::Station => (
            "p.community_id IN (SELECT community_id FROM station_community WHERE station_id = ?)",
            vec![Value::Text(scope.id.clone())],
        ),
    }
}

/// Whether a premises lies within a scope.
pub(crate) fn in_scope(tx: &Transaction<'_>, scope: &Scope, premises_id: &str) -> Result<bool> {
    let (cond, mut params) = scope_condition(scope);
    params.push(Value::Text(premises_id.to_string()));
    let sql = format!("SELECT 1 FROM premises p WHERE {cond} AND p.id = ?");
    Ok(tx
        .query_row(&sql, rusqlite::params_from_iter(params), |_| Ok(()))
        .optional()?
        .is_some())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

pub(crate) fn page(limit: Option<u32>, offset: Option<u32>) -> Result<(i64, i64)> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((i64::from(limit), i64::from(offset.unwrap_or(0))))
}

impl Store {
    /// One premises record.
    pub fn premises(&self, id: &str) -> Result<Premises> {
        validate_id("premises_id", id)?;
        self.read(|tx| record::get(tx, RecordKind::Premises, id))
    }

    /// Premises within `scope` matching `filter`, ordered by name.
    pub fn list_premises(
        &self,
        scope: &Scope,
        filter: &PremisesFilter,
    ) -> Result<Vec<PremisesSummary>> {
        let (limit, offset) = page(filter.limit, filter.offset)?;
        let (scope_cond, mut params) = scope_condition(scope);
        let mut sql = format!(
            "SELECT p.id, p.kind, p.subtypes, p.name, p.address, p.community_id, p.grid_id,
                    (SELECT max(i.finished_ms) FROM inspection i
                      WHERE i.premises_id = p.id AND i.status = 'finished'),
                    (SELECT count(*) FROM hazard h WHERE h.premises_id = p.id AND h.status <> 'closed')
             FROM premises p WHERE {scope_cond}"
        );
        if let Some(c) = filter.category {
            sql.push_str(" AND p.category = ?");
            params.push(Value::Text(c.as_str().into()));
        }
        if let Some(k) = filter.kind {
            sql.push_str(" AND p.kind = ?");
            params.push(Value::Text(k.as_str().into()));
        }
        if let Some(c) = &filter.community {
            sql.push_str(" AND p.community_id = ?");
            params.push(Value::Text(c.clone()));
        }
        if let Some(g) = &filter.grid {
            sql.push_str(" AND p.grid_id = ?");
            params.push(Value::Text(g.clone()));
        }
        if let Some(s) = filter.subtype {
            sql.push_str(" AND p.subtypes LIKE ?");
            params.push(Value::Text(format!("%,{},%", s.as_str())));
        }
        if let Some(text) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if text.chars().count() > 100 {
                return Err(Error::invalid(
                    "text",
                    "search text is at most 100 characters",
                ));
            }
            sql.push_str(" AND (p.name LIKE ? ESCAPE '\\' OR p.address LIKE ? ESCAPE '\\')");
            let pat = like_pattern(text);
            params.push(Value::Text(pat.clone()));
            params.push(Value::Text(pat));
        }
        sql.push_str(" ORDER BY p.name, p.id LIMIT ? OFFSET ?");
        params.push(Value::Integer(limit));
        params.push(Value::Integer(offset));

        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, subtypes, name, address, community, grid, last, open) = row?;
                let kind: crate::premises::PremisesKind = kind
                    .parse()
                    .map_err(|_| Error::corrupt(&id, "premises kind"))?;
                let subtypes = subtypes
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse()
                            .map_err(|_| Error::corrupt(&id, "premises subtype"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                out.push(PremisesSummary {
                    category: kind.category(),
                    id,
                    kind,
                    subtypes,
                    name,
                    address,
                    community,
                    grid,
                    last_inspected_ms: last,
                    open_hazards: u32::try_from(open).unwrap_or(u32::MAX),
                });
            }
            Ok(out)
        })
    }
}
