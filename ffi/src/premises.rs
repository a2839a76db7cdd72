//! Premises (监管对象 / 场所) as lists and detail screens show them, and the list filter.

use firegrid_core::premises as domain;

use crate::vocab::{GeoPoint, map_all, mirror_enum};

mirror_enum! {
    /// The three inspection categories of the guidance.
    Category = domain::Category {
        /// 1 — residential compounds (monthly).
        Residential,
        /// 2 — street shops, small commercial premises and public areas.
        StreetShop,
        /// 3 — large units, construction sites, important buildings, underground spaces.
        LargeSite,
    }
}

mirror_enum! {
    /// What a premises is; each kind belongs to one category.
    PremisesKind = domain::PremisesKind {
        /// 住宅小区
        ResidentialCompound,
        /// 沿街商铺
        StreetShop,
        /// 小型商业用房
        SmallCommercial,
        /// 公共区域
        PublicArea,
        /// 规模型生产经营单位
        LargeUnit,
        /// 建筑工地
        ConstructionSite,
        /// 重要建筑
        ImportantBuilding,
        /// 地下空间
        UndergroundSpace,
    }
}

mirror_enum! {
    /// Properties of a premises that change which checklist items apply or raise its risk.
    Subtype = domain::Subtype {
        /// 高层民用建筑
        HighRiseResidential,
        /// 老旧小区
        OldResidential,
        /// 规模型租赁用房
        LargeRentalHousing,
        /// 三合一场所
        ThreeInOne,
        /// 餐饮
        Catering,
        /// 使用瓶装液化石油气
        LpgUser,
        /// 人员密集场所
        CrowdedPlace,
        /// 易燃易爆危险品场所
        FlammableGoods,
        /// 消防安全重点单位
        KeyUnit,
        /// 人防 / 民防工程
        CivilDefence,
    }
}

/// A contact person at the premises (personal data: never log it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Contact {
    /// Name of the responsible or contact person.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
}

impl From<domain::Contact> for Contact {
    fn from(c: domain::Contact) -> Self {
        Contact {
            name: c.name,
            phone: c.phone,
        }
    }
}

/// One premises record (detail screen).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Premises {
    /// Stable id, e.g. `prem.0001`.
    pub id: String,
    /// What it is.
    pub kind: PremisesKind,
    /// The inspection category of its kind.
    pub category: Category,
    /// Properties that raise risk or select checklist items.
    pub subtypes: Vec<Subtype>,
    /// Name as on the sign (Chinese).
    pub name: String,
    /// Street address (Chinese).
    pub address: String,
    /// Community id.
    pub community: String,
    /// Grid id.
    pub grid: String,
    /// Position, when known.
    pub location: Option<GeoPoint>,
    /// Responsible or contact person.
    pub contact: Option<Contact>,
    /// Floors above ground.
    pub floors: Option<u32>,
    /// Floor area in square metres.
    pub area_m2: Option<u32>,
    /// Households (residential compounds).
    pub households: Option<u32>,
}

impl From<domain::Premises> for Premises {
    fn from(p: domain::Premises) -> Self {
        Premises {
            category: p.category().into(),
            id: p.id,
            kind: p.kind.into(),
            subtypes: map_all(p.subtypes),
            name: p.name,
            address: p.address,
            community: p.community,
            grid: p.grid,
            location: p.location.map(Into::into),
            contact: p.contact.map(Into::into),
            floors: p.floors,
            area_m2: p.area_m2,
            households: p.households,
        }
    }
}

/// A premises row of a list (read from query columns, cheap).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

impl From<domain::PremisesSummary> for PremisesSummary {
    fn from(p: domain::PremisesSummary) -> Self {
        PremisesSummary {
            id: p.id,
            kind: p.kind.into(),
            category: p.category.into(),
            subtypes: map_all(p.subtypes),
            name: p.name,
            address: p.address,
            community: p.community,
            grid: p.grid,
            last_inspected_ms: p.last_inspected_ms,
            open_hazards: p.open_hazards,
        }
    }
}

/// Filters for listing premises in the signed-in user's scope. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PremisesFilter {
    /// Only this category.
    #[uniffi(default = None)]
    pub category: Option<Category>,
    /// Only this kind.
    #[uniffi(default = None)]
    pub kind: Option<PremisesKind>,
    /// Only this community.
    #[uniffi(default = None)]
    pub community: Option<String>,
    /// Only this grid.
    #[uniffi(default = None)]
    pub grid: Option<String>,
    /// Only premises with this subtype.
    #[uniffi(default = None)]
    pub subtype: Option<Subtype>,
    /// Text that must appear in the name or the address (at most 100 characters).
    #[uniffi(default = None)]
    pub text: Option<String>,
    /// At most this many rows (default 200, at most 5,000).
    #[uniffi(default = None)]
    pub limit: Option<u32>,
    /// Skip this many rows (paging).
    #[uniffi(default = None)]
    pub offset: Option<u32>,
}

impl From<PremisesFilter> for domain::PremisesFilter {
    fn from(f: PremisesFilter) -> Self {
        domain::PremisesFilter {
            category: f.category.map(Into::into),
            kind: f.kind.map(Into::into),
            community: f.community,
            grid: f.grid,
            subtype: f.subtype.map(Into::into),
            text: f.text,
            limit: f.limit,
            offset: f.offset,
        }
    }
}
