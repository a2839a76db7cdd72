//! Checklists (检查表): the versioned lists of items per inspection category, loaded from
//! `fixtures/checklists/` and validated, with includes resolved (category 3 includes category 2).
//! A checklist version is immutable once published; inspections keep the `(id, version)` they used.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::fixture::{check_format, json_files, read_json};
use crate::hazard::Severity;
use crate::premises::{Category, Premises, PremisesKind, is_known_tag};
use crate::standard::Standard;
use crate::vocab::{Localized, string_enum};
use crate::{Error, Result};

/// The `format` tag of checklist files this code reads.
pub const FORMAT: &str = "firegrid.checklist/1";

string_enum! {
    /// How often every premises of the category must be inspected (全覆盖).
    pub enum Period {
        /// Daily (patrols).
        Day = "day",
        /// Monthly.
        Month = "month",
        /// Every six months.
        HalfYear = "half_year",
    }
}

/// Coverage rule of a checklist's category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Every premises is inspected once per this period.
    pub every: Period,
    /// Patrol frequency, where there is one (street shops: daily).
    #[serde(default)]
    pub patrol: Option<Period>,
}

/// A group of items (a section of the form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct ChecklistGroup {
    /// Group id.
    pub id: String,
    /// Section title.
    pub title: Localized,
}

/// One item of a checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// Stable id, unique within the resolved checklist and across versions.
    #[key]
    pub id: String,
    /// Group (section) id.
    pub group: String,
    /// The fault to look for.
    pub text: Localized,
    /// Severity hint when the item fails.
    pub severity: Severity,
    /// Whether a failed answer needs a photo before the inspection can be finished.
    pub photo_required_on_fail: bool,
    /// Whether the item must be answered to finish (default true).
    #[serde(default = "default_true")]
    pub required: bool,
    /// Premises kinds or subtypes the item applies to; empty = all premises of the checklist.
    #[serde(default)]
    pub only_for: Vec<String>,
    /// GB 35181 element references, `"<standard version>:<code>"`.
    #[serde(default)]
    pub gb35181: Vec<String>,
    /// Where the rule comes from.
    pub source: String,
    /// For an included item: the checklist id it comes from (set when resolving).
    #[serde(default, skip_deserializing)]
    pub included_from: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A reference to another checklist version whose items are included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeRef {
    /// Checklist id.
    pub checklist: String,
    /// Version.
    pub version: u32,
}

/// A checklist file as written in `fixtures/checklists/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecklistFile {
    format: String,
    id: String,
    version: u32,
    category: u8,
    title: Localized,
    applies_to: Vec<PremisesKind>,
    coverage: Coverage,
    #[serde(default)]
    includes: Vec<IncludeRef>,
    groups: Vec<ChecklistGroup>,
    items: Vec<ChecklistItem>,
}

/// A resolved checklist version: its own items plus included ones. Stored as one automerge
/// document (written once, never edited) and as query rows.
#[derive(Debug, Clone, PartialEq, Serialize, Reconcile, Hydrate)]
pub struct Checklist {
    /// Checklist id, e.g. `street_shop`.
    pub id: String,
    /// Version number.
    pub version: u32,
    /// Inspection category.
    pub category: Category,
    /// Title.
    pub title: Localized,
    /// Premises kinds it is for.
    pub applies_to: Vec<PremisesKind>,
    /// Coverage rule.
    pub coverage: Coverage,
    /// Sections, included checklists' first.
    pub groups: Vec<ChecklistGroup>,
    /// Items, included checklists' first, in form order.
    pub items: Vec<ChecklistItem>,
}

impl Checklist {
    /// The record id of this version's document.
    pub fn record_id(&self) -> String {
        record_id(&self.id, self.version)
    }

    /// The items that apply to a premises (by kind and subtypes).
    pub fn items_for<'a>(
        &'a self,
        premises: &'a Premises,
    ) -> impl Iterator<Item = &'a ChecklistItem> + 'a {
        self.items
            .iter()
            .filter(|i| premises.matches_any(&i.only_for))
    }

    /// Looks up an item by id.
    pub fn item(&self, id: &str) -> Option<&ChecklistItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// The record id of a checklist version's document: `checklist.<id>.v<version>`.
pub fn record_id(id: &str, version: u32) -> String {
    format!("checklist.{id}.v{version}")
}

/// Loads every `*.json` checklist file of a folder, validates it, and resolves includes.
/// `standards` are the loaded GB 35181 versions that item references must exist in.
pub fn load_dir(dir: &Path, standards: &[Standard]) -> Result<Vec<Checklist>> {
    let mut files = Vec::new();
    for path in json_files(dir)? {
        let file: ChecklistFile = read_json(&path)?;
        files.push((path, file));
    }
    resolve(files, standards)
}

/// Loads checklist files given by path (includes must be among them), validated and resolved.
pub fn load_files(paths: &[PathBuf], standards: &[Standard]) -> Result<Vec<Checklist>> {
    let mut files = Vec::new();
    for path in paths {
        let file: ChecklistFile = read_json(path)?;
        files.push((path.clone(), file));
    }
    resolve(files, standards)
}

fn resolve(files: Vec<(PathBuf, ChecklistFile)>, standards: &[Standard]) -> Result<Vec<Checklist>> {
    let mut by_key: BTreeMap<(String, u32), (PathBuf, ChecklistFile)> = BTreeMap::new();
    for (path, file) in files {
        validate_file(&path, &file, standards)?;
        let key = (file.id.clone(), file.version);
        if let Some((other, _)) = by_key.get(&key) {
            return Err(Error::fixture(
                &path,
                "id",
                format!(
                    "{} v{} is also defined in {}",
                    key.0,
                    key.1,
                    other.display()
                ),
            ));
        }
        by_key.insert(key, (path, file));
    }
    let mut out = Vec::new();
    for (path, file) in by_key.values() {
        out.push(resolve_one(path, file, &by_key)?);
    }
    Ok(out)
}

fn resolve_one(
    path: &Path,
    file: &ChecklistFile,
    all: &BTreeMap<(String, u32), (PathBuf, ChecklistFile)>,
) -> Result<Checklist> {
    let mut groups: Vec<ChecklistGroup> = Vec::new();
    let mut items: Vec<ChecklistItem> = Vec::new();
    for inc in &file.includes {
        let Some((_, inc_file)) = all.get(&(inc.checklist.clone(), inc.version)) else {
            return Err(Error::fixture(
                path,
                format!("includes {} v{}", inc.checklist, inc.version),
                "no such checklist version among the loaded files",
            ));
        };
        if !inc_file.includes.is_empty() {
            return Err(Error::fixture(
                path,
                format!("includes {} v{}", inc.checklist, inc.version),
                "an included checklist may not include others (one level only)",
            ));
        }
        for g in &inc_file.groups {
            if !groups.iter().any(|x| x.id == g.id) {
                groups.push(g.clone());
            }
        }
        for item in &inc_file.items {
            let mut item = item.clone();
            item.included_from = Some(inc_file.id.clone());
            items.push(item);
        }
    }
    for g in &file.groups {
        if groups.iter().any(|x| x.id == g.id) {
            return Err(Error::fixture(
                path,
                format!("group {}", g.id),
                "is already defined by an included checklist",
            ));
        }
        groups.push(g.clone());
    }
    let mut seen = HashSet::new();
    for item in items.iter().chain(file.items.iter()) {
        if !seen.insert(item.id.as_str()) {
            return Err(Error::fixture(
                path,
                format!("item {}", item.id),
                "id is used twice in the resolved checklist (own items and included ones together)",
            ));
        }
        if !groups.iter().any(|g| g.id == item.group) {
            return Err(Error::fixture(
                path,
                format!("item {}", item.id),
                format!("group {:?} is not defined", item.group),
            ));
        }
    }
    items.extend(file.items.iter().cloned());
    let category = Category::from_number(file.category).ok_or_else(|| {
        Error::fixture(
            path,
            "category",
            format!("is {}; must be 1, 2 or 3", file.category),
        )
    })?;
    Ok(Checklist {
        id: file.id.clone(),
        version: file.version,
        category,
        title: file.title.clone(),
        applies_to: file.applies_to.clone(),
        coverage: file.coverage.clone(),
        groups,
        items,
    })
}

fn is_slug(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || extra.contains(&b)
        })
}

fn validate_file(path: &Path, f: &ChecklistFile, standards: &[Standard]) -> Result<()> {
    check_format(path, &f.format, FORMAT)?;
    if !is_slug(&f.id, &[]) {
        return Err(Error::fixture(
            path,
            "id",
            format!("{:?} must match [a-z0-9_]+", f.id),
        ));
    }
    if f.version == 0 {
        return Err(Error::fixture(path, "version", "must be 1 or more"));
    }
    let expected_name = format!("{}.v{}.json", f.id, f.version);
    if path.file_name().and_then(|n| n.to_str()) != Some(expected_name.as_str()) {
        return Err(Error::fixture(
            path,
            "file name",
            format!(
                "must be {expected_name} for checklist {} version {}",
                f.id, f.version
            ),
        ));
    }
    let category = Category::from_number(f.category).ok_or_else(|| {
        Error::fixture(
            path,
            "category",
            format!("is {}; must be 1, 2 or 3", f.category),
        )
    })?;
    if !f.title.is_complete() {
        return Err(Error::fixture(path, "title", "needs both zh and en text"));
    }
    if f.applies_to.is_empty() {
        return Err(Error::fixture(
            path,
            "applies_to",
            "must name at least one premises kind",
        ));
    }
    for kind in &f.applies_to {
        if kind.category() != category {
            return Err(Error::fixture(
                path,
                "applies_to",
                format!(
                    "{kind} is category {}, not {}",
                    kind.category().number(),
                    f.category
                ),
            ));
        }
    }
    let mut group_ids = HashSet::new();
    for g in &f.groups {
        if !is_slug(&g.id, &[]) {
            return Err(Error::fixture(
                path,
                format!("group {}", g.id),
                "id must match [a-z0-9_]+",
            ));
        }
        if !group_ids.insert(g.id.as_str()) {
            return Err(Error::fixture(
                path,
                format!("group {}", g.id),
                "defined twice",
            ));
        }
        if !g.title.is_complete() {
            return Err(Error::fixture(
                path,
                format!("group {}", g.id),
                "title needs both zh and en text",
            ));
        }
    }
    if f.items.is_empty() {
        return Err(Error::fixture(
            path,
            "items",
            "a checklist needs at least one item",
        ));
    }
    let mut item_ids = HashSet::new();
    for item in &f.items {
        let at = format!("item {}", item.id);
        if !item_ids.insert(item.id.as_str()) {
            return Err(Error::fixture(path, at, "id is used twice in this file"));
        }
        if !is_slug(&item.id, b".") {
            return Err(Error::fixture(path, at, "id must match [a-z0-9_.]+"));
        }
        if !item.text.is_complete() {
            return Err(Error::fixture(path, at, "text needs both zh and en"));
        }
        if item.source.trim().is_empty() {
            return Err(Error::fixture(path, at, "source is empty"));
        }
        for tag in &item.only_for {
            if !is_known_tag(tag) {
                return Err(Error::fixture(
                    path,
                    at,
                    format!("only_for {tag:?} is neither a premises kind nor a subtype"),
                ));
            }
        }
        for r in &item.gb35181 {
            if !crate::standard::reference_exists(standards, r) {
                return Err(Error::fixture(
                    path,
                    at,
                    format!(
                        "gb35181 reference {r:?} is not an element of a loaded GB 35181 version"
                    ),
                ));
            }
        }
    }
    Ok(())
}
