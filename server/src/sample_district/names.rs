//! Word lists the sample is built from, and the helpers that keep names, addresses and phone
//! numbers unique. Every name here is generic or invented; combinations that happen to match a
//! real shop or person are coincidence.

use std::collections::BTreeSet;

use super::rng::Rng;

/// The 20 communities: the zh stem of the name (also the stem of the community's main road) and
/// its pinyin. Built on road and estate names of the Zhenru area; the communities are invented.
pub(crate) const COMMUNITIES: [(&str, &str); 20] = [
    ("真光", "Zhenguang"),
    ("真西", "Zhenxi"),
    ("真源", "Zhenyuan"),
    ("清涧", "Qingjian"),
    ("杏山", "Xingshan"),
    ("铜川", "Tongchuan"),
    ("兰溪", "Lanxi"),
    ("大渡河", "Daduhe"),
    ("真华", "Zhenhua"),
    ("星光", "Xingguang"),
    ("曹杨", "Caoyang"),
    ("中山北", "Zhongshanbei"),
    ("真北", "Zhenbei"),
    ("南大", "Nanda"),
    ("桃浦", "Taopu"),
    ("武宁", "Wuning"),
    ("金沙江", "Jinshajiang"),
    ("梅岭", "Meiling"),
    ("宜川", "Yichuan"),
    ("甘泉", "Ganquan"),
];

/// Side roads shared out among the communities, besides each community's own main road.
pub(crate) const SIDE_ROADS: [&str; 18] = [
    "武威路",
    "梅川路",
    "真金路",
    "祁连山南路",
    "李子园路",
    "交通路",
    "管弄路",
    "北石路",
    "真南路",
    "曹安路",
    "新郁路",
    "古浪路",
    "敦煌路",
    "岚皋路",
    "同普路",
    "金鼎路",
    "礼泉路",
    "白丽路",
];

pub(crate) const CN_DIGITS: [&str; 10] =
    ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// Surnames, the common ones of Shanghai listed twice so that they come up more often.
const SURNAMES: [&str; 90] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "萧", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "沈", "任", "姚", "卢", "钟", "姜", "崔", "谭", "陆", "范", "汪", "金", "石", "贾", "夏", "顾",
    "方", "钱", "严", "孔", "汤", "施", "倪", "邵", "俞", "盛", "龚", "葛", "毛", "薛", "秦", "戴",
    "徐", "陆", "沈", "顾", "朱", "张", "王", "陈", "周", "钱",
];

/// Given names usual for people born in the 1930s–1950s.
const OLD_GIVEN: [&str; 48] = [
    "秀英", "桂英", "玉兰", "凤英", "秀兰", "桂兰", "美华", "雅芳", "月娥", "彩凤", "宝珍", "金娣",
    "招娣", "杏娣", "梅芳", "佩华", "丽娟", "惠珍", "素珍", "根娣", "爱珍", "巧英", "菊芳", "阿珍",
    "建国", "国华", "志明", "根宝", "金宝", "福生", "荣根", "德明", "永康", "国强", "伯平", "仁杰",
    "士林", "长林", "文德", "振华", "树森", "耀祖", "阿四", "洪发", "炳坤", "志良", "锦荣", "守信",
];

/// Given names usual for working-age people.
const YOUNG_GIVEN: [&str; 60] = [
    "伟", "芳", "静", "磊", "洁", "敏", "勇", "军", "杰", "娟", "涛", "明", "超", "霞", "平", "刚",
    "丽", "婷", "浩然", "欣怡", "子轩", "梓涵", "思远", "佳琪", "俊杰", "晓燕", "海燕", "丽华",
    "志强", "建华", "晓东", "文静", "雪梅", "慧敏", "振宇", "嘉怡", "一鸣", "家豪", "雨桐", "晨曦",
    "卫东", "红梅", "建平", "立新", "春燕", "海峰", "玉洁", "国庆", "晓峰", "亚琴", "美玲", "永明",
    "宏伟", "丽萍", "海波", "秀梅", "志刚", "晓红", "玲玲", "伟民",
];

/// Invented company or brand words (宏运, 恒昌, …).
pub(crate) const BRANDS: [&str; 32] = [
    "宏运", "恒昌", "鼎盛", "瑞丰", "嘉和", "汇通", "鑫达", "天成", "华鑫", "益民", "昌盛", "富源",
    "申真", "沪西", "普源", "金如", "兴荣", "联誉", "卓越", "中宏", "腾达", "永利", "佳运", "伟业",
    "新如", "环亚", "银桥", "安达", "盛泰", "万通", "宝丰", "长兴",
];

/// Words for estate names (金鼎花园, 锦绣苑, …).
pub(crate) const ESTATE_WORDS: [&str; 28] = [
    "金鼎",
    "锦绣",
    "阳光",
    "绿洲",
    "明珠",
    "紫藤",
    "怡景",
    "瑞景",
    "丽晶",
    "海棠",
    "香樟",
    "梅园",
    "中环",
    "星港",
    "康乐",
    "祥和",
    "和美",
    "嘉禾",
    "秀水",
    "碧云",
    "春江",
    "枫林",
    "银杏",
    "玉兰",
    "万里",
    "清水湾",
    "翠庭",
    "兰亭",
];

/// Shop-name words for any trade (鑫源, 佳佳, 老王, …).
pub(crate) const SHOP_WORDS: [&str; 40] = [
    "老王", "老李", "老张", "阿强", "阿香", "小李", "小陈", "鑫源", "佳佳", "美丽", "好运", "金福",
    "永兴", "惠民", "晨光", "顺发", "红星", "宏达", "福满", "兴旺", "百姓", "万家", "邻里", "阳光",
    "春晓", "华英", "志诚", "诚信", "天天", "新新", "利民", "众鑫", "凯旋", "如意", "吉祥", "合顺",
    "东方", "家乐", "欣欣", "友谊",
];

/// Extra words only for places that sell food (兰州, 沙县, 张记, …).
pub(crate) const FOOD_WORDS: [&str; 16] = [
    "兰州",
    "沙县",
    "重庆",
    "四川",
    "安徽",
    "苏北",
    "川味",
    "湘味",
    "东北",
    "老上海",
    "张记",
    "陈记",
    "王记",
    "盛记",
    "日日鲜",
    "弄堂",
];

pub(crate) fn surname(rng: &mut Rng) -> &'static str {
    rng.pick(&SURNAMES)
}

pub(crate) fn person(rng: &mut Rng, old: bool) -> String {
    let surname = surname(rng);
    person_with_surname(rng, surname, old)
}

pub(crate) fn person_with_surname(rng: &mut Rng, surname: &str, old: bool) -> String {
    let given = if old {
        rng.pick(&OLD_GIVEN)
    } else {
        rng.pick(&YOUNG_GIVEN)
    };
    format!("{surname}{given}")
}

/// Hands out unique phone numbers of the form `1390000xxxx`.
#[derive(Debug, Default)]
pub(crate) struct Phones {
    used: BTreeSet<u16>,
}

impl Phones {
    const SPACE: u16 = 10_000;

    pub(crate) fn next(&mut self, rng: &mut Rng) -> String {
        let start = rng.below(usize::from(Self::SPACE)) as u16;
        // Probe upwards from a random start; the sample uses about a quarter of the range.
        let number = (0..Self::SPACE)
            .map(|step| (start + step) % Self::SPACE)
            .find(|n| !self.used.contains(n))
            .unwrap_or(start);
        self.used.insert(number);
        format!("1390000{number:04}")
    }
}

/// A set of names (or addresses) already given out.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    used: BTreeSet<String>,
}

impl Taken {
    /// The first of up to 40 candidates from `make` that is not taken yet; if all are, the last
    /// candidate with `tag` (something unique, such as the address) in brackets.
    pub(crate) fn claim(&mut self, tag: &str, mut make: impl FnMut() -> String) -> String {
        let mut candidate = String::new();
        for _ in 0..40 {
            candidate = make();
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
        }
        let tagged = format!("{candidate}（{tag}）");
        self.used.insert(tagged.clone());
        tagged
    }

    /// Like [`Taken::claim`], for addresses: keeps drawing; a number suffix is the last resort.
    pub(crate) fn claim_address(&mut self, mut make: impl FnMut() -> String) -> String {
        let mut attempt = 0_u32;
        loop {
            let mut candidate = make();
            if attempt >= 200 {
                candidate = format!("{candidate}之{attempt}");
            }
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            attempt += 1;
        }
    }
}
