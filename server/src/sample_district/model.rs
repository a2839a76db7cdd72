//! The shapes of the four files, as serde structs: field order here is field order in the JSON.
//!
//! The format is described in `fixtures/README.md` ("district/").

use serde::Serialize;

/// Text a user sees: zh-CN first, English second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Text {
    pub(crate) zh: String,
    pub(crate) en: String,
}

impl Text {
    pub(crate) fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// street.json

#[derive(Debug, Serialize)]
pub(crate) struct StreetFile {
    pub(crate) format: &'static str,
    pub(crate) generated: Generated,
    pub(crate) street: Street,
    pub(crate) communities: Vec<Community>,
    pub(crate) grids: Vec<Grid>,
    pub(crate) micro_stations: Vec<MicroStation>,
    pub(crate) departments: Vec<Department>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Generated {
    pub(crate) by: &'static str,
    pub(crate) seed: u64,
    pub(crate) note: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Street {
    pub(crate) id: String,
    pub(crate) name: Text,
    pub(crate) district: Text,
    pub(crate) hazard_rules: firegrid_core::hazard::HazardRules,
}

#[derive(Debug, Serialize)]
pub(crate) struct Community {
    pub(crate) id: String,
    pub(crate) name: Text,
    pub(crate) address: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Grid {
    pub(crate) id: String,
    pub(crate) community: String,
    pub(crate) name: Text,
}

#[derive(Debug, Serialize)]
pub(crate) struct MicroStation {
    pub(crate) id: String,
    pub(crate) name: Text,
    pub(crate) communities: Vec<String>,
    pub(crate) address: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Department {
    pub(crate) id: String,
    pub(crate) kind: DepartmentKind,
    pub(crate) name: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DepartmentKind {
    Enforcement,
    Police,
    Market,
    Housing,
    Construction,
}

// ---------------------------------------------------------------------------------------------
// premises.json

#[derive(Debug, Serialize)]
pub(crate) struct PremisesFile {
    pub(crate) format: &'static str,
    pub(crate) premises: Vec<Premises>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Premises {
    pub(crate) id: String,
    pub(crate) kind: PremisesKind,
    pub(crate) subtypes: Vec<Subtype>,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) community: String,
    pub(crate) grid: String,
    pub(crate) location: Location,
    pub(crate) contact: Contact,
    pub(crate) floors: u32,
    pub(crate) area_m2: u32,
    pub(crate) households: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PremisesKind {
    ResidentialCompound,
    StreetShop,
    SmallCommercial,
    PublicArea,
    LargeUnit,
    ConstructionSite,
    ImportantBuilding,
    UndergroundSpace,
}

impl PremisesKind {
    /// The inspection category (1, 2 or 3) of premises of this kind.
    #[cfg(test)]
    pub(crate) fn category(self) -> u8 {
        match self {
            Self::ResidentialCompound => 1,
            Self::StreetShop | Self::SmallCommercial | Self::PublicArea => 2,
            Self::LargeUnit
            | Self::ConstructionSite
            | Self::ImportantBuilding
            | Self::UndergroundSpace => 3,
        }
    }
}

/// Declaration order is the order subtypes are listed in a premises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Subtype {
    HighRiseResidential,
    OldResidential,
    LargeRentalHousing,
    ThreeInOne,
    Catering,
    LpgUser,
    CrowdedPlace,
    FlammableGoods,
    KeyUnit,
    CivilDefence,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Location {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Contact {
    pub(crate) name: String,
    pub(crate) phone: String,
}

// ---------------------------------------------------------------------------------------------
// key_residents.json

#[derive(Debug, Serialize)]
pub(crate) struct KeyResidentsFile {
    pub(crate) format: &'static str,
    pub(crate) key_residents: Vec<KeyResident>,
}

#[derive(Debug, Serialize)]
pub(crate) struct KeyResident {
    pub(crate) id: String,
    pub(crate) community: String,
    pub(crate) premises: String,
    pub(crate) name: String,
    pub(crate) age: u32,
    pub(crate) living_status: LivingStatus,
    pub(crate) address: String,
    pub(crate) phone: Option<String>,
    pub(crate) emergency_contacts: Vec<EmergencyContact>,
    pub(crate) smoke_alarm: SmokeAlarm,
    pub(crate) mobility: Mobility,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LivingStatus {
    /// 独居老人: lives alone, has family elsewhere.
    LivingAlone,
    /// 孤老: no children to call on.
    SolitaryElderly,
    /// 纯老家庭: two elderly people on their own.
    ElderlyCouple,
    /// 残障人士: a person with a disability, of any age.
    Disabled,
}

#[derive(Debug, Serialize)]
pub(crate) struct EmergencyContact {
    pub(crate) name: String,
    pub(crate) relation: Relation,
    pub(crate) phone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Relation {
    Child,
    Neighbour,
    /// 楼组长.
    BuildingLeader,
    Relative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SmokeAlarm {
    None,
    Standalone,
    /// Connected to the community's alarm platform (智能烟感).
    Networked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mobility {
    Independent,
    Assisted,
    Bedridden,
}

// ---------------------------------------------------------------------------------------------
// users.json

#[derive(Debug, Serialize)]
pub(crate) struct UsersFile {
    pub(crate) format: &'static str,
    pub(crate) users: Vec<User>,
}

#[derive(Debug, Serialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) scope: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    GridPatroller,
    ResidentialWorker,
    StationCrew,
    StreetOffice,
    Department,
    Admin,
}

/// Serialised as a one-key object: `{"grid": "grid.01.1"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Scope {
    Street(String),
    Community(String),
    Grid(String),
    Station(String),
    Department(String),
}
