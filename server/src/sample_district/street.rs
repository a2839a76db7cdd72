//! `street.json`: the street, its communities, grids, micro fire stations and departments, and the
//! map layout the other files place their premises on.

use super::model::{
    Community, Department, DepartmentKind, Generated, Grid, MicroStation, Street, StreetFile, Text,
};
use super::names::{COMMUNITIES, SIDE_ROADS, Taken};
use super::rng::Rng;

pub(crate) const STREET_ID: &str = "street.zhenru";

/// Bounding box of the sample, in micro-degrees (31.240–31.260 N, 121.390–121.420 E).
const LAT_SOUTH: u32 = 31_240_000;
const LON_WEST: u32 = 121_390_000;
/// The communities lie on a 5 × 4 raster of cells of this size, numbered west to east, north
/// to south; a community's grids split its cell into vertical strips.
const COLUMNS: u32 = 5;
const ROWS: u32 = 4;
const CELL_LAT: u32 = 5_000;
const CELL_LON: u32 = 6_000;

/// A rectangle on the map, in micro-degrees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Area {
    pub(crate) lat_min: u32,
    pub(crate) lat_max: u32,
    pub(crate) lon_min: u32,
    pub(crate) lon_max: u32,
}

#[derive(Debug)]
pub(crate) struct CommunityInfo {
    pub(crate) id: String,
    /// zh stem of the name: 真光.
    pub(crate) stem: &'static str,
    /// Main road first.
    pub(crate) roads: Vec<String>,
    /// Indexes into [`Layout::grids`].
    pub(crate) grids: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct GridInfo {
    pub(crate) id: String,
    /// Index into [`Layout::communities`].
    pub(crate) community: usize,
    pub(crate) area: Area,
}

/// What the premises generator needs to know about the street.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) communities: Vec<CommunityInfo>,
    pub(crate) grids: Vec<GridInfo>,
}

const STATION_SIZES: [usize; 8] = [3, 3, 3, 3, 2, 2, 2, 2];

pub(crate) fn generate(seed: u64, rng: &mut Rng, addresses: &mut Taken) -> (StreetFile, Layout) {
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    let mut layout = Layout {
        communities: Vec::new(),
        grids: Vec::new(),
    };

    for (index, &(stem, pinyin)) in COMMUNITIES.iter().enumerate() {
        let number = index + 1;
        let id = format!("com.{number:02}");
        let main_road = format!("{stem}路");
        let mut roads = vec![main_road.clone()];
        while roads.len() < 3 {
            let side = rng.pick(&SIDE_ROADS).to_owned();
            if !roads.contains(&side) {
                roads.push(side);
            }
        }
        let (next_stem, _) = COMMUNITIES[(index + 1) % COMMUNITIES.len()];
        roads.push(format!("{next_stem}路"));

        let address = addresses.claim_address(|| format!("{main_road}{}号", rng.range(1, 1_600)));
        communities.push(Community {
            id: id.clone(),
            name: Text::new(format!("{stem}居民区"), format!("{pinyin} Community")),
            address,
        });

        let column = index as u32 % COLUMNS;
        let row = index as u32 / COLUMNS;
        let lat_max = LAT_SOUTH + (ROWS - row) * CELL_LAT;
        let lon_min = LON_WEST + column * CELL_LON;
        let count = rng.range(3, 6);
        let mut grid_indexes = Vec::new();
        for g in 0..count {
            let grid_id = format!("grid.{number:02}.{}", g + 1);
            grids.push(Grid {
                id: grid_id.clone(),
                community: id.clone(),
                name: Text::new(
                    format!("{stem}第{}网格", g + 1),
                    format!("{pinyin} Grid {}", g + 1),
                ),
            });
            grid_indexes.push(layout.grids.len());
            layout.grids.push(GridInfo {
                id: grid_id,
                community: index,
                area: Area {
                    lat_min: lat_max - CELL_LAT,
                    lat_max,
                    lon_min: lon_min + g * CELL_LON / count,
                    lon_max: lon_min + (g + 1) * CELL_LON / count,
                },
            });
        }
        layout.communities.push(CommunityInfo {
            id,
            stem,
            roads,
            grids: grid_indexes,
        });
    }

    // Stations serve runs of neighbouring communities, together each community exactly once.
    let mut sizes = STATION_SIZES;
    rng.shuffle(&mut sizes);
    let mut micro_stations = Vec::new();
    let mut next = 0;
    for (index, size) in sizes.into_iter().enumerate() {
        let served = &layout.communities[next..next + size];
        next += size;
        let (stem, pinyin) = COMMUNITIES[next - size];
        let road = &served[0].roads[0];
        micro_stations.push(MicroStation {
            id: format!("sta.{:02}", index + 1),
            name: Text::new(
                format!("{stem}微型消防站"),
                format!("{pinyin} Micro Fire Station"),
            ),
            communities: served.iter().map(|c| c.id.clone()).collect(),
            address: addresses.claim_address(|| format!("{road}{}号", rng.range(1, 1_600))),
        });
    }

    let file = StreetFile {
        format: "firegrid.street/1",
        generated: Generated {
            by: "firegrid-server sample-district",
            seed,
            note: "Fictional sample modelled on Zhenru street; names, addresses, people and phone \
                   numbers are invented.",
        },
        street: Street {
            id: STREET_ID.to_owned(),
            name: Text::new("真如镇街道", "Zhenru Street"),
            district: Text::new("普陀区", "Putuo District"),
            // Written out so the sample shows every rule a street can set.
            hazard_rules: firegrid_core::hazard::HazardRules::default(),
        },
        communities,
        grids,
        micro_stations,
        departments: departments(),
    };
    (file, layout)
}

fn departments() -> Vec<Department> {
    [
        (
            DepartmentKind::Enforcement,
            "enforcement",
            "街道城管执法中队",
            "Street Urban Management Enforcement Team",
        ),
        (
            DepartmentKind::Police,
            "police",
            "真如派出所",
            "Zhenru Police Station",
        ),
        (
            DepartmentKind::Market,
            "market",
            "真如市场监管所",
            "Zhenru Market Regulation Office",
        ),
        (
            DepartmentKind::Housing,
            "housing",
            "街道房管办",
            "Street Housing Management Office",
        ),
        (
            DepartmentKind::Construction,
            "construction",
            "街道建管办",
            "Street Construction Management Office",
        ),
    ]
    .into_iter()
    .map(|(kind, key, zh, en)| Department {
        id: format!("dept.{key}"),
        kind,
        name: Text::new(zh, en),
    })
    .collect()
}
