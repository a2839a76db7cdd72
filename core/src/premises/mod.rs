//! Premises (监管对象 / 场所): anything that is inspected, its kind, category and subtypes, and
//! the filter used to list premises in a scope. Pure types; storage lives in `store`.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::vocab::{GeoPoint, string_enum};

string_enum! {
    /// The three inspection categories of the guidance (section 四(一)).
    pub enum Category {
        /// 1 — residential compounds, inspected monthly by neighbourhood-committee staff.
        Residential = "residential",
        /// 2 — street shops, small commercial premises and public areas: daily patrol, monthly coverage.
        StreetShop = "street_shop",
        /// 3 — large units, construction sites, important buildings, underground spaces: every six months.
        LargeSite = "large_site",
    }
}

impl Category {
    /// The category's number in the guidance (1, 2 or 3).
    pub fn number(self) -> u8 {
        match self {
            Category::Residential => 1,
            Category::StreetShop => 2,
            Category::LargeSite => 3,
        }
    }

    /// The category with the given number.
    pub fn from_number(n: u8) -> Option<Category> {
        match n {
            1 => Some(Category::Residential),
            2 => Some(Category::StreetShop),
            3 => Some(Category::LargeSite),
            _ => None,
        }
    }
}

string_enum! {
    /// What a premises is; each kind belongs to one category.
    pub enum PremisesKind {
        /// 住宅小区
        ResidentialCompound = "residential_compound",
        /// 沿街商铺
        StreetShop = "street_shop",
        /// 小型商业用房
        SmallCommercial = "small_commercial",
        /// 公共区域
        PublicArea = "public_area",
        /// 规模型生产经营单位
        LargeUnit = "large_unit",
        /// 建筑工地
        ConstructionSite = "construction_site",
        /// 重要建筑
        ImportantBuilding = "important_building",
        /// 地下空间
        UndergroundSpace = "underground_space",
    }
}

impl PremisesKind {
    /// The inspection category this kind belongs to.
    pub fn category(self) -> Category {
        match self {
            PremisesKind::ResidentialCompound => Category::Residential,
            PremisesKind::StreetShop | PremisesKind::SmallCommercial | PremisesKind::PublicArea => {
                Category::StreetShop
            }
            PremisesKind::LargeUnit
            | PremisesKind::ConstructionSite
            | PremisesKind::ImportantBuilding
            | PremisesKind::UndergroundSpace => Category::LargeSite,
        }
    }
}

string_enum! {
    /// Properties of a premises that change which checklist items apply or raise its risk.
    pub enum Subtype {
        /// 高层民用建筑
        HighRiseResidential = "high_rise_residential",
        /// 老旧小区
        OldResidential = "old_residential",
        /// 规模型租赁用房
        LargeRentalHousing = "large_rental_housing",
        /// 三合一场所
        ThreeInOne = "three_in_one",
        /// 餐饮
        Catering = "catering",
        /// 使用瓶装液化石油气
        LpgUser = "lpg_user",
        /// 人员密集场所
        CrowdedPlace = "crowded_place",
        /// 易燃易爆危险品场所
        FlammableGoods = "flammable_goods",
        /// 消防安全重点单位
        KeyUnit = "key_unit",
        /// 人防 / 民防工程
        CivilDefence = "civil_defence",
    }
}

/// Whether `tag` names a premises kind or a subtype (used by checklist `only_for`).
pub fn is_known_tag(tag: &str) -> bool {
    tag.parse::<PremisesKind>().is_ok() || tag.parse::<Subtype>().is_ok()
}

/// A contact person at the premises (personal data: never logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name of the responsible or contact person.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
}

/// A premises record: one automerge document each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Premises {
    /// Stable id, e.g. `prem.0001`.
    pub id: String,
    /// What it is.
    pub kind: PremisesKind,
    /// Properties that raise risk or select checklist items.
    pub subtypes: Vec<Subtype>,
    /// Name as on the sign (Chinese).
    pub name: String,
    /// Street address (Chinese).
    pub address: String,
    /// Community (neighbourhood committee) id.
    pub community: String,
    /// Grid id (within the community).
    pub grid: String,
    /// Position, when known.
    pub location: Option<GeoPoint>,
    /// Responsible or contact person.
    pub contact: Option<Contact>,
    /// Number of floors above ground.
    pub floors: Option<u32>,
    /// Floor area in square metres.
    pub area_m2: Option<u32>,
    /// Households (residential compounds).
    pub households: Option<u32>,
}

impl Premises {
    /// The inspection category of this premises.
    pub fn category(&self) -> Category {
        self.kind.category()
    }

    /// Whether a checklist item restricted to `only_for` tags applies here (empty = everywhere).
    pub fn matches_any(&self, only_for: &[String]) -> bool {
        only_for.is_empty()
            || only_for.iter().any(|tag| {
                tag == self.kind.as_str() || self.subtypes.iter().any(|s| s.as_str() == tag)
            })
    }
}

/// A summary row for lists, read from the store's query columns (no document load).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PremisesSummary {
    /// Premises id.
    pub id: String,
    /// Kind.
    pub kind: PremisesKind,
    /// Category of the kind.
    pub category: Category,
    /// Subtypes.
    pub subtypes: Vec<Subtype>,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Community id.
    pub community: String,
    /// Grid id.
    pub grid: String,
    /// Finish time of the latest finished inspection (device clock, ms), if any.
    pub last_inspected_ms: Option<i64>,
    /// Hazards of this premises that are not closed.
    pub open_hazards: u32,
}

/// Filters for listing premises within a scope. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PremisesFilter {
    /// Only this category.
    pub category: Option<Category>,
    /// Only this kind.
    pub kind: Option<PremisesKind>,
    /// Only this community.
    pub community: Option<String>,
    /// Only this grid.
    pub grid: Option<String>,
    /// Only premises with this subtype.
    pub subtype: Option<Subtype>,
    /// Text that must appear in the name or the address (case-insensitive for Latin letters).
    pub text: Option<String>,
    /// At most this many rows (default 200, at most 5,000).
    pub limit: Option<u32>,
    /// Skip this many rows (paging).
    pub offset: Option<u32>,
}
