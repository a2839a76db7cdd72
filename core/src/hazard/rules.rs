//! The street's configurable hazard rules, and the judgments made from them: default
//! rectification deadlines by severity, recurrence (反复回潮), suspected major hazards under
//! GB 35181, and focused supervision of premises.
//!
//! Every judgment here *flags* or *proposes*; none decides. A suspected major hazard goes to
//! the office's collective determination, a proposed listing to the office.

use std::collections::BTreeSet;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::Severity;
use crate::premises::Subtype;
use crate::standard::{ElementKind, Standard};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The street's hazard rules (part of the street record; defaults when it sets none). The
/// defaults are the proposals of the domain research: general 7 days, serious 15, a suspected
/// major hazard 30 pending its determination; recurring within 90 days; listing proposed from
/// the second recurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields, default)]
pub struct HazardRules {
    /// Rectification days for a general hazard.
    pub general_days: u32,
    /// Rectification days for a serious hazard.
    pub serious_days: u32,
    /// Rectification days for a suspected major hazard (until its determination sets one).
    pub major_candidate_days: u32,
    /// A hazard at the same premises and item within this many days of a close recurs.
    pub recurrence_window_days: u32,
    /// From this many recurrences in a row, listing is proposed.
    pub listing_after_recurrences: u32,
    /// An after photo farther than this (metres) from the before location is flagged.
    pub far_from_before_m: u32,
    /// Focused supervision: this many hazards at one premises within `focus_window_days`.
    pub focus_min_hazards: u32,
    /// The window for `focus_min_hazards`.
    pub focus_window_days: u32,
}

impl Default for HazardRules {
    fn default() -> Self {
        HazardRules {
            general_days: 7,
            serious_days: 15,
            major_candidate_days: 30,
            recurrence_window_days: 90,
            listing_after_recurrences: 2,
            far_from_before_m: 100,
            focus_min_hazards: 3,
            focus_window_days: 365,
        }
    }
}

impl HazardRules {
    /// Checks the numbers make sense (used when a street file is loaded).
    pub fn validate(&self) -> crate::Result<()> {
        let days = [
            ("hazard_rules.general_days", self.general_days),
            ("hazard_rules.serious_days", self.serious_days),
            (
                "hazard_rules.major_candidate_days",
                self.major_candidate_days,
            ),
            (
                "hazard_rules.recurrence_window_days",
                self.recurrence_window_days,
            ),
            ("hazard_rules.focus_window_days", self.focus_window_days),
        ];
        for (field, d) in days {
            if d == 0 || d > 3650 {
                return Err(crate::Error::invalid(field, "must be 1 to 3650 days"));
            }
        }
        if self.far_from_before_m == 0 {
            return Err(crate::Error::invalid(
                "hazard_rules.far_from_before_m",
                "must be a positive number of metres",
            ));
        }
        if self.listing_after_recurrences == 0 || self.focus_min_hazards == 0 {
            return Err(crate::Error::invalid(
                "hazard_rules",
                "listing_after_recurrences and focus_min_hazards must be at least 1",
            ));
        }
        Ok(())
    }

    /// Rectification days for a severity.
    pub fn days_for(&self, severity: Severity) -> u32 {
        match severity {
            Severity::General => self.general_days,
            Severity::Serious => self.serious_days,
            Severity::MajorCandidate => self.major_candidate_days,
        }
    }

    /// The default deadline for a case of `severity` filed at `from_ms`.
    pub fn deadline_for(&self, severity: Severity, from_ms: i64) -> i64 {
        from_ms.saturating_add(i64::from(self.days_for(severity)) * DAY_MS)
    }

    /// Whether a case closed at `closed_ms` makes a new finding at `found_ms` a recurrence.
    pub fn recurs(&self, closed_ms: i64, found_ms: i64) -> bool {
        found_ms >= closed_ms
            && found_ms - closed_ms <= i64::from(self.recurrence_window_days) * DAY_MS
    }

    /// Whether a recurrence chain of this length proposes listing.
    pub fn proposes_listing(&self, recurrence: u32) -> bool {
        recurrence >= self.listing_after_recurrences
    }

    /// The start of the focused-supervision window ending at `now_ms`.
    pub fn focus_since(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(i64::from(self.focus_window_days) * DAY_MS)
    }
}

/// Why the software suspects a major fire hazard (重大火灾隐患) at a premises. Never a
/// determination: the office decides collectively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MajorSuspicion {
    /// The standard version the elements come from.
    pub standard_version: String,
    /// Direct elements matched (any one is enough to suspect).
    pub direct: Vec<String>,
    /// Comprehensive elements matched.
    pub comprehensive: Vec<String>,
    /// The comprehensive rule's threshold that was reached, if that is why.
    pub threshold: Option<u32>,
}

/// Judges the GB 35181 elements of a premises' open hazards (`element refs` as
/// `"<version>:<code>"`) against each loaded standard: suspected if any direct element
/// matches, or if the comprehensive elements counted by a rule for the premises' subtypes
/// reach its threshold.
pub fn suspect_major<'a>(
    standards: &[Standard],
    subtypes: &[Subtype],
    element_refs: impl IntoIterator<Item = &'a str>,
) -> Option<MajorSuspicion> {
    let refs: BTreeSet<&str> = element_refs.into_iter().collect();
    for std in standards {
        let mut direct = Vec::new();
        let mut comprehensive = Vec::new();
        for r in &refs {
            let Some((version, code)) = r.split_once(':') else {
                continue;
            };
            if version != std.version {
                continue;
            }
            match std.element(code).map(|e| e.kind) {
                Some(ElementKind::Direct) => direct.push(code.to_string()),
                Some(ElementKind::Comprehensive) => comprehensive.push(code.to_string()),
                None => {}
            }
        }
        let threshold = std
            .comprehensive_rules
            .iter()
            .filter(|rule| {
                rule.place_types
                    .iter()
                    .any(|t| t == "*" || subtypes.iter().any(|s| s.as_str() == t.as_str()))
            })
            .filter_map(|rule| {
                let counted = comprehensive
                    .iter()
                    .filter(|c| rule.counted.iter().any(|k| k == "*" || k == *c))
                    .count();
                (counted >= rule.threshold as usize).then_some(rule.threshold)
            })
            .min();
        if !direct.is_empty() || threshold.is_some() {
            return Some(MajorSuspicion {
                standard_version: std.version.clone(),
                direct,
                comprehensive,
                threshold,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_deadlines_follow_severity() {
        let r = HazardRules::default();
        r.validate().unwrap();
        assert_eq!(r.deadline_for(Severity::General, 0), 7 * DAY_MS);
        assert_eq!(r.deadline_for(Severity::Serious, 1), 1 + 15 * DAY_MS);
        assert!(r.recurs(0, 90 * DAY_MS));
        assert!(!r.recurs(0, 90 * DAY_MS + 1));
        assert!(!r.recurs(10, 5), "found before the close: not a recurrence");
        assert!(!r.proposes_listing(1));
        assert!(r.proposes_listing(2));
        let bad = HazardRules {
            general_days: 0,
            ..HazardRules::default()
        };
        assert!(bad.validate().is_err());
    }
}
