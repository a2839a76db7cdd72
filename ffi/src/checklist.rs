//! Checklists (检查表) as the inspection form renders them: sections and items of one
//! immutable checklist version.

use firegrid_core::checklist as domain;

use crate::hazard::Severity;
use crate::premises::{Category, PremisesKind};
use crate::vocab::{Localized, map_all, mirror_enum};

mirror_enum! {
    /// How often every premises of a category must be inspected.
    Period = domain::Period {
        /// Daily.
        Day,
        /// Monthly.
        Month,
        /// Every six months.
        HalfYear,
    }
}

/// Coverage rule of a checklist's category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Coverage {
    /// Every premises is inspected once per this period.
    pub every: Period,
    /// Patrol frequency, where there is one.
    pub patrol: Option<Period>,
}

impl From<domain::Coverage> for Coverage {
    fn from(c: domain::Coverage) -> Self {
        Coverage {
            every: c.every.into(),
            patrol: c.patrol.map(Into::into),
        }
    }
}

/// A section of the form.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChecklistGroup {
    /// Group id.
    pub id: String,
    /// Section title.
    pub title: Localized,
}

impl From<domain::ChecklistGroup> for ChecklistGroup {
    fn from(g: domain::ChecklistGroup) -> Self {
        ChecklistGroup {
            id: g.id,
            title: g.title.into(),
        }
    }
}

/// One item of a checklist.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChecklistItem {
    /// Stable id.
    pub id: String,
    /// Group (section) id.
    pub group: String,
    /// The fault to look for.
    pub text: Localized,
    /// Severity hint when the item fails.
    pub severity: Severity,
    /// Whether a failed answer needs a photo before the inspection can be finished.
    pub photo_required_on_fail: bool,
    /// Whether the item must be answered to finish.
    pub required: bool,
    /// Premises kinds or subtypes the item applies to; empty = all.
    pub only_for: Vec<String>,
    /// GB 35181 element references, `"<standard version>:<code>"`.
    pub gb35181: Vec<String>,
    /// Where the rule comes from.
    pub source: String,
    /// For an included item: the checklist id it comes from.
    pub included_from: Option<String>,
}

impl From<domain::ChecklistItem> for ChecklistItem {
    fn from(i: domain::ChecklistItem) -> Self {
        ChecklistItem {
            id: i.id,
            group: i.group,
            text: i.text.into(),
            severity: i.severity.into(),
            photo_required_on_fail: i.photo_required_on_fail,
            required: i.required,
            only_for: i.only_for,
            gb35181: i.gb35181,
            source: i.source,
            included_from: i.included_from,
        }
    }
}

/// A checklist version: its sections and items in form order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
    /// Sections.
    pub groups: Vec<ChecklistGroup>,
    /// Items in form order.
    pub items: Vec<ChecklistItem>,
}

impl From<domain::Checklist> for Checklist {
    fn from(c: domain::Checklist) -> Self {
        Checklist {
            id: c.id,
            version: c.version,
            category: c.category.into(),
            title: c.title.into(),
            applies_to: map_all(c.applies_to),
            coverage: c.coverage.into(),
            groups: map_all(c.groups),
            items: map_all(c.items),
        }
    }
}
