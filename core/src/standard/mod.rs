//! GB 35181 major-hazard elements (重大火灾隐患判定要素) as versioned reference data, loaded from
//! `fixtures/standards/`. The hazard rules use them to *flag* a suspected major hazard for a
//! collective determination; nothing here ever declares one.

use std::collections::HashSet;
use std::path::Path;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::fixture::{check_format, json_files, read_json};
use crate::premises::Subtype;
use crate::vocab::{Localized, string_enum};
use crate::{Error, Result};

/// The `format` tag of standard files this code reads.
pub const FORMAT: &str = "firegrid.standard/1";

string_enum! {
    /// Whether one element decides alone or counts toward a threshold.
    pub enum ElementKind {
        /// 直接判定要素 — any one is enough.
        Direct = "direct",
        /// 综合判定要素 — counted against the place type's threshold.
        Comprehensive = "comprehensive",
    }
}

string_enum! {
    /// Standing of a standard version.
    pub enum StandardStatus {
        /// Kept as the baseline until a newer version's clause text is loaded.
        Baseline = "baseline",
        /// The version in force.
        Current = "current",
        /// Replaced.
        Superseded = "superseded",
    }
}

string_enum! {
    /// Whether an element's wording was checked against a source.
    pub enum Certainty {
        /// Seen in a cited source.
        Checked = "checked",
        /// Completed from memory of the official text; to verify.
        Unverified = "unverified",
    }
}

/// A section of the standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct ElementGroup {
    /// Section number, e.g. `7.3`.
    pub id: String,
    /// Title.
    pub title: Localized,
}

/// One determination element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Element {
    /// Clause number, e.g. `6.8` or `7.3.6`.
    #[key]
    pub code: String,
    /// Direct or comprehensive.
    pub kind: ElementKind,
    /// Section id.
    pub group: String,
    /// Condensed text.
    pub text: Localized,
    /// Whether the wording was checked against a source.
    pub certainty: Certainty,
}

/// A comprehensive-determination rule: at least `threshold` of `counted` on a matching premises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct ComprehensiveRule {
    /// Premises subtypes the rule is for; `"*"` = any premises.
    pub place_types: Vec<String>,
    /// Element codes counted; `"*"` = every comprehensive element.
    pub counted: Vec<String>,
    /// How many counted elements make a suspected major hazard.
    pub threshold: u32,
}

/// A case in which no major hazard is determined (e.g. the premises has stopped operating).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// Clause id.
    pub id: String,
    /// Text.
    pub text: Localized,
}

/// One version of GB 35181.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    /// File format tag (`firegrid.standard/1`).
    pub format: String,
    /// Always `gb35181`.
    pub id: String,
    /// Version (year), e.g. `2017`.
    pub version: String,
    /// Title.
    pub title: Localized,
    /// Standing.
    pub status: StandardStatus,
    /// What must be reviewed before relying on this version.
    pub review_note: Localized,
    /// Sections.
    pub groups: Vec<ElementGroup>,
    /// Elements.
    pub elements: Vec<Element>,
    /// Comprehensive rules.
    pub comprehensive_rules: Vec<ComprehensiveRule>,
    /// Exemptions.
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
}

impl Standard {
    /// The record id of this version's document: `standard.gb35181.2017`.
    pub fn record_id(&self) -> String {
        format!("standard.{}.{}", self.id, self.version)
    }

    /// Looks up an element by code.
    pub fn element(&self, code: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.code == code)
    }
}

/// Whether `reference` (`"2017:6.8"`) names an element of one of `standards`.
pub fn reference_exists(standards: &[Standard], reference: &str) -> bool {
    let Some((version, code)) = reference.split_once(':') else {
        return false;
    };
    standards
        .iter()
        .any(|s| s.version == version && s.element(code).is_some())
}

/// Loads and validates every `*.json` standard file of a folder.
pub fn load_dir(dir: &Path) -> Result<Vec<Standard>> {
    let mut out: Vec<Standard> = Vec::new();
    for path in json_files(dir)? {
        let s = load_file(&path)?;
        if out.iter().any(|o| o.id == s.id && o.version == s.version) {
            return Err(Error::fixture(
                &path,
                "version",
                format!("{} {} is defined twice", s.id, s.version),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// Loads and validates one standard file.
pub fn load_file(path: &Path) -> Result<Standard> {
    let s: Standard = read_json(path)?;
    validate(path, &s)?;
    Ok(s)
}

fn validate(path: &Path, s: &Standard) -> Result<()> {
    check_format(path, &s.format, FORMAT)?;
    if s.id != "gb35181" {
        return Err(Error::fixture(path, "id", "must be \"gb35181\""));
    }
    let expected_name = format!("{}-{}.json", s.id, s.version);
    if path.file_name().and_then(|n| n.to_str()) != Some(expected_name.as_str()) {
        return Err(Error::fixture(
            path,
            "file name",
            format!("must be {expected_name}"),
        ));
    }
    if !s.title.is_complete() || !s.review_note.is_complete() {
        return Err(Error::fixture(
            path,
            "title",
            "title and review_note need both zh and en",
        ));
    }
    let groups: HashSet<&str> = s.groups.iter().map(|g| g.id.as_str()).collect();
    let mut codes = HashSet::new();
    for e in &s.elements {
        let at = format!("element {}", e.code);
        if !codes.insert(e.code.as_str()) {
            return Err(Error::fixture(path, at, "code is used twice"));
        }
        if !groups.contains(e.group.as_str()) {
            return Err(Error::fixture(
                path,
                at,
                format!("group {:?} is not defined", e.group),
            ));
        }
        if !e.text.is_complete() {
            return Err(Error::fixture(path, at, "text needs both zh and en"));
        }
    }
    for (i, rule) in s.comprehensive_rules.iter().enumerate() {
        let at = format!("comprehensive_rules[{i}]");
        if rule.threshold == 0 {
            return Err(Error::fixture(path, at, "threshold must be 1 or more"));
        }
        for p in &rule.place_types {
            if p != "*" && p.parse::<Subtype>().is_err() {
                return Err(Error::fixture(
                    path,
                    at,
                    format!("place type {p:?} is not a premises subtype"),
                ));
            }
        }
        for c in &rule.counted {
            if c == "*" {
                continue;
            }
            match s.element(c) {
                Some(e) if e.kind == ElementKind::Comprehensive => {}
                Some(_) => {
                    return Err(Error::fixture(
                        path,
                        at,
                        format!("{c} is a direct element; only comprehensive ones are counted"),
                    ));
                }
                None => {
                    return Err(Error::fixture(
                        path,
                        at,
                        format!("counted element {c} is not defined"),
                    ));
                }
            }
        }
    }
    Ok(())
}
