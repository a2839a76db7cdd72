//! `premises.json`: about 1,500 premises of the three inspection categories.
//!
//! Each community gets a share of every kind (at least a few of each, the rest in proportion to
//! its number of grids); each premises sits in one grid of its community and inside that grid's
//! strip of the map. Premises are listed grid by grid, and by kind within a grid.

use super::model::{Contact, Location, Premises, PremisesFile, PremisesKind, Subtype};
use super::names::{self, BRANDS, CN_DIGITS, ESTATE_WORDS, FOOD_WORDS, Phones, SHOP_WORDS, Taken};
use super::rng::Rng;
use super::street::{CommunityInfo, Layout};

use PremisesKind::{
    ConstructionSite, ImportantBuilding, LargeUnit, PublicArea, ResidentialCompound,
    SmallCommercial, StreetShop, UndergroundSpace,
};
use Subtype::{
    Catering, CivilDefence, CrowdedPlace, FlammableGoods, HighRiseResidential, KeyUnit,
    LargeRentalHousing, LpgUser, OldResidential, ThreeInOne,
};

/// How many premises of each kind, and the least number every community gets.
const COMPOUNDS: (usize, usize) = (180, 5);
const CATEGORY_2: [(PremisesKind, usize); 3] =
    [(StreetShop, 900), (SmallCommercial, 220), (PublicArea, 80)];
const CATEGORY_2_MIN: usize = 35;
const CATEGORY_3: [(PremisesKind, usize); 4] = [
    (LargeUnit, 45),
    (ConstructionSite, 20),
    (ImportantBuilding, 30),
    (UndergroundSpace, 25),
];
const CATEGORY_3_MIN: usize = 3;

/// A kind of business or place and how it is usually found: the name word, how often it occurs
/// (weight), whether it cooks, the chance in percent of each risk subtype, storeys and floor area.
#[derive(Debug)]
struct Trade {
    word: &'static str,
    weight: u32,
    catering: bool,
    lpg: u32,
    three_in_one: u32,
    crowded: u32,
    floors: (u32, u32),
    area: (u32, u32),
}

const fn trade(
    word: &'static str,
    weight: u32,
    catering: bool,
    lpg: u32,
    three_in_one: u32,
    crowded: u32,
    area: (u32, u32),
) -> Trade {
    Trade {
        word,
        weight,
        catering,
        lpg,
        three_in_one,
        crowded,
        floors: (1, 2),
        area,
    }
}

const SHOP_TRADES: [Trade; 39] = [
    trade("面馆", 6, true, 40, 4, 0, (20, 80)),
    trade("早餐店", 6, true, 50, 6, 0, (15, 60)),
    trade("馄饨店", 3, true, 40, 4, 0, (15, 60)),
    trade("小吃店", 5, true, 40, 4, 0, (15, 70)),
    trade("烧烤店", 3, true, 30, 3, 0, (30, 120)),
    trade("麻辣烫", 3, true, 30, 3, 0, (20, 80)),
    trade("饭店", 4, true, 35, 3, 0, (40, 150)),
    trade("火锅店", 2, true, 20, 2, 20, (60, 200)),
    trade("生煎馆", 2, true, 40, 3, 0, (20, 70)),
    trade("快餐店", 3, true, 30, 3, 0, (30, 100)),
    trade("奶茶店", 3, true, 0, 1, 0, (15, 50)),
    trade("烘焙坊", 2, true, 5, 2, 0, (20, 80)),
    trade("熟食店", 2, true, 10, 3, 0, (15, 50)),
    trade("五金店", 4, false, 0, 12, 0, (20, 100)),
    trade("便利店", 6, false, 0, 3, 0, (30, 120)),
    trade("发廊", 4, false, 0, 4, 0, (20, 80)),
    trade("水果店", 5, false, 1, 5, 0, (20, 80)),
    trade("烟杂店", 4, false, 1, 8, 0, (10, 40)),
    trade("快递驿站", 3, false, 0, 8, 0, (20, 100)),
    trade("电动车维修部", 3, false, 1, 15, 0, (20, 80)),
    trade("服装店", 4, false, 0, 6, 0, (20, 120)),
    trade("药房", 3, false, 0, 1, 0, (40, 150)),
    trade("干洗店", 2, false, 0, 6, 0, (20, 60)),
    trade("裁缝铺", 2, false, 0, 12, 0, (10, 40)),
    trade("手机维修店", 2, false, 0, 5, 0, (10, 40)),
    trade("眼镜店", 2, false, 0, 1, 0, (30, 100)),
    trade("花店", 2, false, 0, 3, 0, (15, 50)),
    trade("彩票站", 2, false, 0, 2, 0, (10, 40)),
    trade("洗车店", 2, false, 0, 6, 0, (60, 200)),
    trade("烟酒店", 3, false, 0, 3, 0, (15, 60)),
    trade("生鲜店", 3, false, 1, 5, 0, (30, 120)),
    trade("粮油店", 2, false, 2, 10, 0, (20, 80)),
    trade("文具店", 2, false, 0, 3, 0, (15, 60)),
    trade("美甲店", 2, false, 0, 2, 0, (15, 50)),
    trade("宠物店", 2, false, 0, 5, 0, (20, 80)),
    trade("装潢材料店", 2, false, 0, 10, 0, (30, 150)),
    trade("废品回收站", 2, false, 1, 20, 0, (30, 200)),
    trade("打印店", 2, false, 0, 4, 0, (15, 60)),
    trade("家电维修部", 2, false, 1, 10, 0, (15, 60)),
];

const SMALL_COMMERCIAL_TRADES: [Trade; 17] = [
    Trade {
        floors: (2, 5),
        ..trade("宾馆", 4, false, 0, 0, 100, (200, 1_200))
    },
    Trade {
        floors: (3, 6),
        ..trade("快捷酒店", 3, false, 0, 0, 100, (400, 2_500))
    },
    trade("网吧", 3, false, 0, 0, 100, (150, 600)),
    Trade {
        floors: (1, 3),
        ..trade("KTV", 2, false, 0, 0, 100, (200, 900))
    },
    trade("棋牌室", 4, false, 0, 6, 70, (40, 200)),
    trade("足浴店", 3, false, 0, 8, 60, (80, 400)),
    trade("健身房", 2, false, 0, 0, 80, (200, 1_000)),
    Trade {
        floors: (1, 3),
        ..trade("培训中心", 3, false, 0, 0, 80, (100, 600))
    },
    trade("托育园", 2, false, 0, 0, 100, (150, 500)),
    trade("餐厅", 5, true, 30, 2, 40, (100, 500)),
    Trade {
        floors: (1, 3),
        ..trade("酒家", 3, true, 35, 2, 50, (200, 800))
    },
    trade("茶楼", 2, true, 10, 2, 40, (100, 400)),
    trade("超市", 4, false, 0, 2, 20, (200, 800)),
    trade("诊所", 2, false, 0, 0, 0, (60, 300)),
    trade("美容院", 2, false, 0, 4, 0, (60, 300)),
    trade("浴室", 1, false, 0, 5, 60, (100, 400)),
    trade("小商品批发部", 2, false, 0, 15, 0, (100, 500)),
];

const PUBLIC_AREAS: [Trade; 8] = [
    trade("菜市场", 3, false, 0, 0, 100, (600, 3_000)),
    trade("农贸市场", 1, false, 0, 0, 100, (800, 3_000)),
    Trade {
        floors: (2, 4),
        ..trade("社区文化活动中心", 2, false, 0, 0, 100, (300, 2_000))
    },
    Trade {
        floors: (1, 1),
        ..trade("街心花园", 2, false, 0, 0, 0, (800, 5_000))
    },
    Trade {
        floors: (1, 1),
        ..trade("健身苑点", 2, false, 0, 0, 0, (200, 1_000))
    },
    Trade {
        floors: (1, 1),
        ..trade("非机动车集中充电点", 3, false, 0, 0, 0, (50, 300))
    },
    trade("社区食堂", 2, true, 20, 0, 100, (150, 600)),
    trade("睦邻中心", 2, false, 0, 0, 60, (200, 1_200)),
];

/// A category-3 site: how its name is made, and its subtypes' chances in percent.
#[derive(Debug)]
struct Site {
    /// `{brand}`, `{place}` (community or road stem), `{road}` or `{compound}` stand for parts.
    pattern: &'static str,
    weight: u32,
    flammable: u32,
    key_unit: u32,
    crowded: u32,
    civil_defence: u32,
    floors: (u32, u32),
    area: (u32, u32),
}

const fn site(
    pattern: &'static str,
    weight: u32,
    chances: [u32; 4],
    floors: (u32, u32),
    area: (u32, u32),
) -> Site {
    let [flammable, key_unit, crowded, civil_defence] = chances;
    Site {
        pattern,
        weight,
        flammable,
        key_unit,
        crowded,
        civil_defence,
        floors,
        area,
    }
}

//                         [flammable, key_unit, crowded, civil_defence]
const LARGE_UNITS: [Site; 10] = [
    site(
        "上海{brand}物流有限公司",
        5,
        [50, 20, 0, 0],
        (1, 4),
        (3_000, 30_000),
    ),
    site(
        "上海{brand}仓储有限公司",
        3,
        [60, 10, 0, 0],
        (1, 3),
        (2_000, 20_000),
    ),
    site(
        "上海{brand}印务有限公司",
        2,
        [50, 10, 0, 0],
        (2, 5),
        (2_000, 12_000),
    ),
    site(
        "上海{brand}商贸有限公司",
        3,
        [10, 10, 0, 0],
        (2, 6),
        (2_000, 10_000),
    ),
    site(
        "上海{brand}服饰有限公司",
        2,
        [30, 10, 0, 0],
        (2, 5),
        (2_000, 10_000),
    ),
    site(
        "上海{brand}汽车销售服务有限公司",
        2,
        [30, 10, 0, 0],
        (2, 4),
        (2_000, 8_000),
    ),
    site(
        "{brand}购物中心",
        2,
        [0, 50, 100, 0],
        (3, 6),
        (10_000, 60_000),
    ),
    site(
        "{brand}大酒店",
        2,
        [0, 30, 100, 0],
        (6, 20),
        (8_000, 30_000),
    ),
    site(
        "{brand}家具建材城",
        1,
        [60, 30, 100, 0],
        (2, 5),
        (8_000, 30_000),
    ),
    site(
        "{brand}农副产品批发市场",
        1,
        [10, 20, 100, 0],
        (1, 2),
        (5_000, 20_000),
    ),
];

const CONSTRUCTION_SITES: [Site; 9] = [
    site(
        "{road}旧区改造项目工地",
        3,
        [25, 0, 0, 0],
        (6, 18),
        (10_000, 90_000),
    ),
    site(
        "{road}保障性租赁住房项目工地",
        2,
        [25, 0, 0, 0],
        (10, 30),
        (10_000, 60_000),
    ),
    site(
        "{road}商业综合体项目工地",
        1,
        [30, 10, 0, 0],
        (4, 20),
        (20_000, 90_000),
    ),
    site(
        "{road}城市更新项目工地",
        2,
        [25, 0, 0, 0],
        (4, 18),
        (8_000, 60_000),
    ),
    site(
        "{place}学校新建项目工地",
        1,
        [20, 0, 0, 0],
        (4, 6),
        (8_000, 20_000),
    ),
    site(
        "{place}综合为老服务中心项目工地",
        1,
        [20, 0, 0, 0],
        (4, 8),
        (5_000, 15_000),
    ),
    site(
        "{road}住宅项目工地",
        2,
        [25, 0, 0, 0],
        (11, 30),
        (15_000, 80_000),
    ),
    site(
        "{road}办公楼项目工地",
        1,
        [25, 0, 0, 0],
        (8, 30),
        (10_000, 60_000),
    ),
    site(
        "{compound}加装电梯工地",
        1,
        [15, 0, 0, 0],
        (5, 7),
        (500, 3_000),
    ),
];

const IMPORTANT_BUILDINGS: [Site; 8] = [
    site("{brand}大厦", 5, [0, 60, 20, 0], (15, 32), (15_000, 60_000)),
    site(
        "{brand}商务中心",
        3,
        [0, 40, 10, 0],
        (8, 24),
        (10_000, 40_000),
    ),
    site(
        "{place}社区卫生服务中心",
        2,
        [0, 100, 100, 0],
        (3, 6),
        (3_000, 10_000),
    ),
    site("{place}小学", 2, [0, 100, 100, 0], (3, 5), (5_000, 15_000)),
    site("{place}中学", 1, [0, 100, 100, 0], (4, 6), (8_000, 20_000)),
    site("{place}幼儿园", 2, [0, 100, 100, 0], (3, 4), (2_000, 5_000)),
    site(
        "{place}养老院",
        2,
        [0, 100, 100, 0],
        (3, 8),
        (3_000, 12_000),
    ),
    site(
        "{place}社区事务受理服务中心",
        1,
        [0, 50, 100, 0],
        (2, 5),
        (2_000, 6_000),
    ),
];

/// `floors` of an underground space counts the levels below ground.
const UNDERGROUND_SPACES: [Site; 5] = [
    site(
        "{compound}地下车库",
        5,
        [0, 0, 0, 50],
        (1, 2),
        (3_000, 15_000),
    ),
    site(
        "{place}人防工程",
        3,
        [0, 10, 0, 100],
        (1, 1),
        (1_000, 5_000),
    ),
    site(
        "{brand}广场地下商场",
        2,
        [10, 30, 100, 50],
        (1, 2),
        (5_000, 20_000),
    ),
    site(
        "{brand}大厦地下车库",
        2,
        [0, 10, 0, 50],
        (1, 3),
        (3_000, 12_000),
    ),
    site("{road}地下通道", 1, [0, 0, 30, 0], (1, 1), (500, 2_000)),
];

/// A premises before it has an id and a place on the map.
#[derive(Debug)]
struct Draft {
    kind: PremisesKind,
    subtypes: Vec<Subtype>,
    name: String,
    address: String,
    contact: Contact,
    floors: u32,
    area_m2: u32,
    households: Option<u32>,
}

#[derive(Debug)]
struct Generator<'a> {
    rng: &'a mut Rng,
    phones: &'a mut Phones,
    addresses: &'a mut Taken,
    names: Taken,
}

pub(crate) fn generate(
    rng: &mut Rng,
    layout: &Layout,
    phones: &mut Phones,
    addresses: &mut Taken,
) -> PremisesFile {
    let weights: Vec<u32> = layout
        .communities
        .iter()
        .map(|c| c.grids.len() as u32)
        .collect();
    let compounds = spread(rng, &weights, COMPOUNDS.0, COMPOUNDS.1);
    let category_2 = pool(rng, &CATEGORY_2);
    let category_2_counts = spread(rng, &weights, category_2.len(), CATEGORY_2_MIN);
    let category_3 = pool(rng, &CATEGORY_3);
    let category_3_counts = spread(rng, &weights, category_3.len(), CATEGORY_3_MIN);

    let mut generator = Generator {
        rng,
        phones,
        addresses,
        names: Taken::default(),
    };
    let mut drafts: Vec<(usize, Draft)> = Vec::new();
    let mut category_2 = category_2.into_iter();
    let mut category_3 = category_3.into_iter();
    for (index, community) in layout.communities.iter().enumerate() {
        let mut compound_names = Vec::new();
        for _ in 0..compounds[index] {
            let draft = generator.compound(community);
            compound_names.push(draft.name.clone());
            drafts.push((generator.rng.pick(&community.grids), draft));
        }
        for kind in category_2.by_ref().take(category_2_counts[index]) {
            let draft = generator.category_2(kind, community);
            drafts.push((generator.rng.pick(&community.grids), draft));
        }
        for kind in category_3.by_ref().take(category_3_counts[index]) {
            let draft = generator.category_3(kind, community, &compound_names);
            drafts.push((generator.rng.pick(&community.grids), draft));
        }
    }
    // Stable: generation order is kept within a grid and kind.
    drafts.sort_by_key(|(grid, draft)| (*grid, draft.kind));

    let rng = generator.rng;
    let premises = drafts
        .into_iter()
        .enumerate()
        .map(|(index, (grid, draft))| {
            let area = layout.grids[grid].area;
            let margin = 100;
            let lat = rng.range(area.lat_min + margin, area.lat_max - margin);
            let lon = rng.range(area.lon_min + margin, area.lon_max - margin);
            let community = layout.communities[layout.grids[grid].community].id.clone();
            Premises {
                id: format!("prem.{:04}", index + 1),
                kind: draft.kind,
                subtypes: draft.subtypes,
                name: draft.name,
                address: draft.address,
                community,
                grid: layout.grids[grid].id.clone(),
                location: Location {
                    lat: f64::from(lat) / 1e6,
                    lon: f64::from(lon) / 1e6,
                },
                contact: draft.contact,
                floors: draft.floors,
                area_m2: draft.area_m2,
                households: draft.households,
            }
        })
        .collect();
    PremisesFile {
        format: "firegrid.premises/1",
        premises,
    }
}

/// `total` shared out among communities: `min` each, the rest drawn one by one by `weights`.
fn spread(rng: &mut Rng, weights: &[u32], total: usize, min: usize) -> Vec<usize> {
    let mut counts = vec![min; weights.len()];
    for _ in 0..total.saturating_sub(min * weights.len()) {
        counts[rng.weighted(weights)] += 1;
    }
    counts
}

/// Exactly `count` of each kind, in random order.
fn pool(rng: &mut Rng, kinds: &[(PremisesKind, usize)]) -> Vec<PremisesKind> {
    let mut all: Vec<PremisesKind> = kinds
        .iter()
        .flat_map(|&(kind, count)| std::iter::repeat_n(kind, count))
        .collect();
    rng.shuffle(&mut all);
    all
}

fn road_stem(road: &str) -> &str {
    road.strip_suffix('路').unwrap_or(road)
}

impl Generator<'_> {
    /// One of the community's roads, its main road half of the time.
    fn road<'c>(&mut self, community: &'c CommunityInfo) -> &'c str {
        let mut weights = vec![2; community.roads.len()];
        weights[0] = 2 * (community.roads.len() as u32 - 1);
        &community.roads[self.rng.weighted(&weights)]
    }

    /// A street number on `road`; now and then inside a lane.
    fn street_address(&mut self, road: &str, lane_percent: u32) -> String {
        let rng = &mut *self.rng;
        self.addresses.claim_address(|| {
            if rng.percent(lane_percent) {
                format!("{road}{}弄{}号", rng.range(1, 1_500), rng.range(1, 60))
            } else {
                format!("{road}{}号", rng.range(1, 2_000))
            }
        })
    }

    fn contact(&mut self) -> Contact {
        Contact {
            name: names::person(self.rng, false),
            phone: self.phones.next(self.rng),
        }
    }

    fn subtypes(&mut self, chances: &[(u32, Subtype)]) -> Vec<Subtype> {
        let mut subtypes: Vec<Subtype> = chances
            .iter()
            .filter(|&&(chance, _)| self.rng.percent(chance))
            .map(|&(_, subtype)| subtype)
            .collect();
        subtypes.sort();
        subtypes
    }

    fn compound(&mut self, community: &CommunityInfo) -> Draft {
        #[derive(Clone, Copy, PartialEq)]
        enum Style {
            Old,
            OldHigh,
            High,
            Rental,
            Plain,
        }
        let road = self.road(community);
        let style = match self.rng.range(0, 99) {
            0..=37 => Style::Old,
            38..=42 => Style::OldHigh,
            43..=73 => Style::High,
            74..=80 => Style::Rental,
            _ => Style::Plain,
        };
        let rng = &mut *self.rng;
        let (floors, households) = match style {
            Style::Old => (rng.range(5, 7), rng.range(100, 1_200)),
            Style::OldHigh => (rng.range(12, 18), rng.range(200, 1_000)),
            Style::High => (rng.range(14, 33), rng.range(300, 2_000)),
            Style::Rental => (rng.range(6, 16), rng.range(100, 800)),
            Style::Plain => (rng.range(6, 9), rng.range(100, 900)),
        };
        let per_household = if style == Style::Rental {
            rng.range(30, 45)
        } else {
            rng.range(55, 95)
        };
        let mut subtypes = Vec::new();
        if matches!(style, Style::Old | Style::OldHigh) {
            subtypes.push(OldResidential);
        }
        if floors >= 10 {
            subtypes.push(HighRiseResidential);
        }
        if style == Style::Rental {
            subtypes.push(LargeRentalHousing);
        }
        subtypes.sort();

        let address = self
            .addresses
            .claim_address(|| format!("{road}{}弄", rng.range(1, 1_600)));
        let place = community.stem;
        let other = road_stem(road);
        let name = self.names.claim(&address, || {
            let stem = if rng.percent(70) { place } else { other };
            let digit = rng.pick(&CN_DIGITS);
            match style {
                Style::Old | Style::OldHigh => match rng.range(0, 3) {
                    0 => format!("{stem}新村"),
                    1 => format!("{stem}{digit}村"),
                    2 => format!("{stem}{digit}街坊"),
                    _ => format!("{stem}小区"),
                },
                Style::High => {
                    let suffix =
                        rng.pick(&["花园", "名邸", "华庭", "雅苑", "苑", "家园", "公寓", "大楼"]);
                    let word = if rng.percent(50) {
                        stem
                    } else {
                        rng.pick(&ESTATE_WORDS)
                    };
                    format!("{word}{suffix}")
                }
                Style::Rental => match rng.range(0, 2) {
                    0 => format!("{}青年公寓", rng.pick(&ESTATE_WORDS)),
                    1 => format!("{}人才公寓", rng.pick(&BRANDS)),
                    _ => format!("{stem}租赁社区"),
                },
                Style::Plain => {
                    let suffix = rng.pick(&["小区", "苑", "坊", "花苑", "公寓", "家园"]);
                    let word = if rng.percent(60) {
                        stem
                    } else {
                        rng.pick(&ESTATE_WORDS)
                    };
                    format!("{word}{suffix}")
                }
            }
        });
        Draft {
            kind: ResidentialCompound,
            subtypes,
            name,
            address,
            contact: self.contact(),
            floors,
            area_m2: households * per_household,
            households: Some(households),
        }
    }

    fn category_2(&mut self, kind: PremisesKind, community: &CommunityInfo) -> Draft {
        let trades: &[Trade] = match kind {
            StreetShop => &SHOP_TRADES,
            SmallCommercial => &SMALL_COMMERCIAL_TRADES,
            _ => &PUBLIC_AREAS,
        };
        let weights: Vec<u32> = trades.iter().map(|t| t.weight).collect();
        let lane_percent = if kind == PublicArea { 0 } else { 10 };
        let road = self.road(community);
        let address = self.street_address(road, lane_percent);
        let road = road_stem(road);
        let rng = &mut *self.rng;
        let mut chosen = 0;
        let name = self.names.claim(&address, || {
            chosen = rng.weighted(&weights);
            let trade = &trades[chosen];
            let word = if kind == PublicArea {
                if rng.percent(60) {
                    community.stem
                } else {
                    road
                }
            } else if trade.catering && rng.percent(40) {
                rng.pick(&FOOD_WORDS)
            } else {
                rng.pick(&SHOP_WORDS)
            };
            format!("{word}{}", trade.word)
        });
        let trade = &trades[chosen];
        let subtypes = self.subtypes(&[
            (trade.three_in_one, ThreeInOne),
            (if trade.catering { 100 } else { 0 }, Catering),
            (trade.lpg, LpgUser),
            (trade.crowded, CrowdedPlace),
        ]);
        let rng = &mut *self.rng;
        let mut floors = rng.range(trade.floors.0, trade.floors.1);
        if kind == StreetShop {
            // Most shops are one storey; a second one is usually a self-built loft.
            floors = if subtypes.contains(&ThreeInOne) || rng.percent(15) {
                2
            } else {
                1
            };
        }
        let area_m2 = rng.range(trade.area.0, trade.area.1);
        Draft {
            kind,
            subtypes,
            name,
            address,
            contact: self.contact(),
            floors,
            area_m2,
            households: None,
        }
    }

    fn category_3(
        &mut self,
        kind: PremisesKind,
        community: &CommunityInfo,
        compounds: &[String],
    ) -> Draft {
        let sites: &[Site] = match kind {
            LargeUnit => &LARGE_UNITS,
            ConstructionSite => &CONSTRUCTION_SITES,
            ImportantBuilding => &IMPORTANT_BUILDINGS,
            _ => &UNDERGROUND_SPACES,
        };
        let weights: Vec<u32> = sites
            .iter()
            .map(|s| {
                if s.pattern.contains("{compound}") && compounds.is_empty() {
                    0
                } else {
                    s.weight
                }
            })
            .collect();
        let road = self.road(community);
        let address = self.street_address(road, 0);
        let rng = &mut *self.rng;
        let mut chosen = 0;
        let name = self.names.claim(&address, || {
            chosen = rng.weighted(&weights);
            let place = if rng.percent(70) {
                community.stem
            } else {
                road_stem(road)
            };
            let compound = if compounds.is_empty() {
                ""
            } else {
                compounds[rng.below(compounds.len())].as_str()
            };
            sites[chosen]
                .pattern
                .replace("{brand}", rng.pick(&BRANDS))
                .replace("{place}", place)
                .replace("{road}", road)
                .replace("{compound}", compound)
        });
        let site = &sites[chosen];
        let subtypes = self.subtypes(&[
            (site.crowded, CrowdedPlace),
            (site.flammable, FlammableGoods),
            (site.key_unit, KeyUnit),
            (site.civil_defence, CivilDefence),
        ]);
        let floors = self.rng.range(site.floors.0, site.floors.1);
        let area_m2 = self.rng.range(site.area.0, site.area.1) / 10 * 10;
        Draft {
            kind,
            subtypes,
            name,
            address,
            contact: self.contact(),
            floors,
            area_m2,
            households: None,
        }
    }
}
