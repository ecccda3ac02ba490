"""Reference data of the simulated co-op network: the category tree, product templates, names.

Everything here is plain data; the planner draws from it with the seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

FRESH_SHELF_LIFE_DAYS = 30  # produce: shipped within a day, reordered every few days


@dataclass(frozen=True)
class Leaf:
    """A level-3 category and how its products look, keep and sell."""

    code: str
    name: str
    name_en: str
    items: tuple[str, ...]
    specs: tuple[str, ...]
    shelf_life_days: int | None
    unit_cost: tuple[float, float]
    base_qty: float  # units a household buys in one order line
    order_multiple: int
    min_order_qty: int
    commodity: bool = False  # sells and is bought at a market price that moves

    @property
    def fresh(self) -> bool:
        return self.shelf_life_days is not None and self.shelf_life_days <= FRESH_SHELF_LIFE_DAYS


@dataclass(frozen=True)
class Group:
    """A level-2 category: one season profile and one kind of supplier."""

    code: str
    name: str
    name_en: str
    sku_prefix: str
    season: str
    lead_time_days: tuple[int, int]
    suppliers: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    on_time_rate: tuple[float, float] = (0.75, 0.98)  # range of its suppliers' on-time delivery


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    name_en: str
    brands: tuple[str, ...]
    groups: tuple[Group, ...]


CATEGORY_TREE: tuple[Division, ...] = (
    Division(
        "01",
        "农资",
        "Farm inputs",
        ("丰收", "沃野", "金土地", "农家乐", "田园"),
        (
            Group(
                "0101",
                "化肥",
                "Fertiliser",
                "HF",
                "fertiliser",
                (7, 14),
                ("丰收化肥有限公司", "金土地肥业有限公司", "沃野农化有限公司"),
                (
                    Leaf(
                        "010101",
                        "复合肥",
                        "Compound fertiliser",
                        ("硫酸钾型复合肥", "氯基复合肥", "高塔复合肥", "水溶复合肥"),
                        ("15-15-15 50kg/袋", "17-17-17 40kg/袋", "28-6-6 50kg/袋", "20-10-15 25kg/袋"),
                        1095,
                        (85, 180),
                        2,
                        10,
                        20,
                        commodity=True,
                    ),
                    Leaf(
                        "010102",
                        "尿素",
                        "Urea",
                        ("尿素", "大颗粒尿素", "缓释尿素"),
                        ("N46% 50kg/袋", "N46% 40kg/袋"),
                        730,
                        (95, 140),
                        2,
                        10,
                        20,
                        commodity=True,
                    ),
                    Leaf(
                        "010103",
                        "有机肥",
                        "Organic fertiliser",
                        ("生物有机肥", "羊粪有机肥", "腐植酸有机肥"),
                        ("40kg/袋", "25kg/袋"),
                        540,
                        (30, 60),
                        3,
                        10,
                        10,
                    ),
                ),
            ),
            Group(
                "0102",
                "种子",
                "Seeds",
                "ZZ",
                "seed",
                (5, 10),
                ("金穗种业有限公司", "丰乐种业经销部"),
                (
                    Leaf(
                        "010201",
                        "玉米种子",
                        "Maize seed",
                        ("郑单958玉米种", "先玉335玉米种", "登海605玉米种"),
                        ("2kg/袋", "1kg/袋"),
                        365,
                        (25, 60),
                        2,
                        10,
                        10,
                    ),
                    Leaf(
                        "010202",
                        "小麦种子",
                        "Wheat seed",
                        ("济麦22小麦种", "百农207小麦种", "烟农999小麦种"),
                        ("25kg/袋", "10kg/袋"),
                        365,
                        (60, 150),
                        2,
                        5,
                        5,
                    ),
                    Leaf(
                        "010203",
                        "蔬菜种子",
                        "Vegetable seed",
                        ("黄瓜种子", "番茄种子", "白菜种子", "辣椒种子", "菠菜种子"),
                        ("10g/包", "50g/罐"),
                        365,
                        (3, 25),
                        3,
                        20,
                        20,
                    ),
                ),
            ),
            Group(
                "0103",
                "农药",
                "Pesticides",
                "NY",
                "pesticide",
                (5, 10),
                ("绿盾农药有限公司", "植保农资有限公司"),
                (
                    Leaf(
                        "010301",
                        "杀虫剂",
                        "Insecticide",
                        ("吡虫啉可湿性粉剂", "高效氯氰菊酯乳油", "阿维菌素乳油"),
                        ("100g/袋", "500ml/瓶", "1L/瓶"),
                        730,
                        (8, 45),
                        2,
                        10,
                        10,
                    ),
                    Leaf(
                        "010302",
                        "除草剂",
                        "Herbicide",
                        ("草甘膦水剂", "烟嘧磺隆", "乙草胺乳油"),
                        ("1L/瓶", "5L/桶", "200ml/瓶"),
                        730,
                        (10, 60),
                        2,
                        10,
                        10,
                    ),
                    Leaf(
                        "010303",
                        "杀菌剂",
                        "Fungicide",
                        ("多菌灵可湿性粉剂", "代森锰锌", "苯醚甲环唑"),
                        ("500g/袋", "100g/袋", "250ml/瓶"),
                        730,
                        (6, 40),
                        2,
                        10,
                        10,
                    ),
                ),
            ),
        ),
    ),
    Division(
        "02",
        "食品",
        "Food",
        ("五丰", "福满仓", "乡味", "旺福", "好运来"),
        (
            Group(
                "0201",
                "粮油",
                "Grain and oil",
                "LY",
                "staples",
                (3, 7),
                ("五丰粮油有限公司", "福满仓粮油批发部"),
                (
                    Leaf(
                        "020101",
                        "大米",
                        "Rice",
                        ("东北大米", "长粒香米", "丝苗米", "稻花香米"),
                        ("10kg/袋", "5kg/袋", "25kg/袋"),
                        365,
                        (25, 120),
                        1,
                        5,
                        10,
                        commodity=True,
                    ),
                    Leaf(
                        "020102",
                        "面粉",
                        "Flour",
                        ("高筋面粉", "小麦粉", "饺子粉", "富强粉"),
                        ("5kg/袋", "10kg/袋", "25kg/袋"),
                        270,
                        (15, 80),
                        1,
                        5,
                        10,
                        commodity=True,
                    ),
                    Leaf(
                        "020103",
                        "食用油",
                        "Cooking oil",
                        ("大豆油", "菜籽油", "花生油", "玉米油"),
                        ("5L/桶", "1.8L/瓶", "10L/桶"),
                        540,
                        (25, 140),
                        1,
                        4,
                        8,
                        commodity=True,
                    ),
                ),
            ),
            Group(
                "0202",
                "休闲食品",
                "Snacks",
                "XS",
                "snacks",
                (3, 7),
                ("乐购食品有限公司", "旺福食品批发部"),
                (
                    Leaf(
                        "020201",
                        "饼干糕点",
                        "Biscuits and pastry",
                        ("苏打饼干", "夹心饼干", "桃酥", "蛋黄派", "沙琪玛"),
                        ("400g/袋", "1kg/箱", "200g/盒"),
                        180,
                        (4, 25),
                        2,
                        12,
                        12,
                    ),
                    Leaf(
                        "020202",
                        "坚果炒货",
                        "Nuts and seeds",
                        ("五香瓜子", "花生米", "开心果", "碧根果", "核桃仁"),
                        ("500g/袋", "250g/袋", "1kg/礼盒"),
                        240,
                        (6, 60),
                        2,
                        10,
                        10,
                    ),
                    Leaf(
                        "020203",
                        "糖果",
                        "Sweets",
                        ("水果硬糖", "奶糖", "酥心糖", "巧克力"),
                        ("500g/袋", "1kg/袋", "250g/盒"),
                        365,
                        (5, 40),
                        2,
                        10,
                        10,
                    ),
                ),
            ),
            Group(
                "0203",
                "酒水饮料",
                "Drinks",
                "JS",
                "drinks",
                (3, 6),
                ("顺达酒水商行", "清泉饮品有限公司"),
                (
                    Leaf(
                        "020301",
                        "白酒",
                        "Baijiu",
                        ("浓香型白酒", "纯粮酒", "二锅头", "老窖"),
                        ("500ml/瓶", "500ml*6/箱"),
                        None,
                        (10, 180),
                        1,
                        6,
                        6,
                    ),
                    Leaf(
                        "020302",
                        "饮料",
                        "Soft drinks",
                        ("矿泉水", "绿茶饮料", "果汁饮料", "凉茶", "可乐"),
                        ("550ml*24/箱", "1.5L*6/箱", "500ml/瓶"),
                        365,
                        (2, 45),
                        2,
                        12,
                        12,
                    ),
                ),
            ),
        ),
    ),
    Division(
        "03",
        "日用品",
        "Household goods",
        ("洁美", "家家净", "清爽", "白云"),
        (
            Group(
                "0301",
                "清洁用品",
                "Cleaning",
                "QJ",
                "household",
                (4, 8),
                ("洁美日化有限公司", "家家净日用品批发部"),
                (
                    Leaf(
                        "030101",
                        "洗衣用品",
                        "Laundry",
                        ("洗衣粉", "洗衣液", "肥皂", "洗衣凝珠"),
                        ("2kg/袋", "3kg/瓶", "4块/组"),
                        1095,
                        (5, 40),
                        1,
                        12,
                        12,
                    ),
                    Leaf(
                        "030102",
                        "厨房清洁",
                        "Kitchen cleaning",
                        ("洗洁精", "油污净", "钢丝球", "抹布"),
                        ("1.5kg/瓶", "500g/瓶", "5个/包"),
                        1095,
                        (3, 20),
                        1,
                        12,
                        12,
                    ),
                ),
            ),
            Group(
                "0302",
                "个人护理",
                "Personal care",
                "HL",
                "personal_care",
                (4, 8),
                ("清爽日化有限公司", "白云纸业经销部"),
                (
                    Leaf(
                        "030201",
                        "洗护用品",
                        "Toiletries",
                        ("洗发水", "沐浴露", "牙膏", "香皂"),
                        ("400ml/瓶", "750ml/瓶", "120g/支"),
                        1095,
                        (5, 35),
                        1,
                        12,
                        12,
                    ),
                    Leaf(
                        "030202",
                        "纸品",
                        "Paper goods",
                        ("卷纸", "抽纸", "湿巾"),
                        ("10卷/提", "3包/提", "80片/包"),
                        1095,
                        (6, 30),
                        2,
                        10,
                        10,
                    ),
                ),
            ),
        ),
    ),
    Division(
        "04",
        "生鲜",
        "Fresh produce",
        ("本地", "山东", "河南", "云南"),
        (
            Group(
                "0401",
                "蔬菜",
                "Vegetables",
                "SC",
                "vegetables",
                (2, 2),
                ("城关蔬菜批发市场", "绿野蔬菜种植合作社"),
                (
                    Leaf(
                        "040101",
                        "叶菜",
                        "Leafy vegetables",
                        ("大白菜", "菠菜", "小青菜", "生菜", "芹菜"),
                        ("散装/斤",),
                        7,
                        (1, 4),
                        3,
                        5,
                        5,
                        commodity=True,
                    ),
                    Leaf(
                        "040102",
                        "根茎菜",
                        "Root vegetables",
                        ("土豆", "胡萝卜", "洋葱", "白萝卜", "山药"),
                        ("散装/斤", "5斤/袋"),
                        20,
                        (1, 6),
                        3,
                        5,
                        5,
                        commodity=True,
                    ),
                ),
                on_time_rate=(0.93, 0.99),  # the local wholesale market
            ),
            Group(
                "0402",
                "水果",
                "Fruit",
                "SG",
                "fruit",
                (2, 3),
                ("鲜果汇水果批发部", "果园之家有限公司"),
                (
                    Leaf(
                        "040201",
                        "时令水果",
                        "Seasonal fruit",
                        ("苹果", "香梨", "葡萄", "西瓜", "桃子"),
                        ("散装/斤", "5斤/箱"),
                        15,
                        (2, 10),
                        3,
                        5,
                        5,
                        commodity=True,
                    ),
                    Leaf(
                        "040202",
                        "柑橘类",
                        "Citrus",
                        ("砂糖橘", "脐橙", "蜜柚", "沃柑"),
                        ("散装/斤", "10斤/箱"),
                        30,
                        (2, 8),
                        3,
                        5,
                        5,
                        commodity=True,
                    ),
                ),
                on_time_rate=(0.93, 0.99),  # the local wholesale market
            ),
        ),
    ),
)

# Share of a merchant's SKUs per level-2 group, by merchant type.
ASSORTMENT: dict[str, dict[str, float]] = {
    "county_coop": {
        "0101": 0.12, "0102": 0.08, "0103": 0.08, "0201": 0.14, "0202": 0.12,
        "0203": 0.10, "0301": 0.10, "0302": 0.08, "0401": 0.09, "0402": 0.09,
    },
    "wholesaler": {"0101": 0.30, "0102": 0.20, "0103": 0.25, "0201": 0.15, "0301": 0.10},
    "grassroots_coop": {
        "0101": 0.12, "0102": 0.10, "0103": 0.10, "0201": 0.15, "0202": 0.12,
        "0203": 0.08, "0301": 0.10, "0302": 0.08, "0401": 0.08, "0402": 0.07,
    },
    "retailer": {
        "0201": 0.20, "0202": 0.22, "0203": 0.18, "0301": 0.12, "0302": 0.12, "0401": 0.08, "0402": 0.08,
    },
}  # fmt: skip

CUSTOMER_TYPES: tuple[str, ...] = ("household", "shop", "canteen", "farm", "other")

# Share of a merchant's customers per customer type (order of CUSTOMER_TYPES).
CUSTOMER_MIX: dict[str, tuple[float, ...]] = {
    "county_coop": (0.68, 0.12, 0.05, 0.12, 0.03),
    "wholesaler": (0.15, 0.35, 0.0, 0.45, 0.05),
    "grassroots_coop": (0.72, 0.07, 0.03, 0.15, 0.03),
    "retailer": (0.90, 0.05, 0.03, 0.0, 0.02),
}

# How strongly each customer type buys from each division (order of CATEGORY_TREE).
AFFINITY: tuple[tuple[float, ...], ...] = (
    (0.4, 1.0, 1.0, 1.0),  # household
    (0.3, 1.6, 1.3, 0.4),  # shop: resells
    (0.0, 1.4, 0.5, 2.2),  # canteen: staples and fresh produce
    (2.5, 0.15, 0.15, 0.0),  # farm: inputs
    (0.5, 0.8, 0.8, 0.5),  # other
)
QTY_MULTIPLIER: tuple[float, ...] = (1.0, 4.0, 5.0, 5.0, 2.0)
LINES_PER_ORDER: tuple[float, ...] = (1.5, 2.8, 3.2, 1.7, 1.8)

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭")
GIVEN_NAMES = (
    "建国", "秀英", "桂兰", "志强", "海燕", "国庆", "丽华", "卫东", "玉梅", "春生",
    "红霞", "德胜", "小燕", "金凤", "永刚", "素芬", "明亮", "晓东", "爱民", "淑珍",
)  # fmt: skip
VILLAGES = ("李庄", "王楼", "前进村", "五里铺", "大刘庄", "小张庄", "后湖村", "新集村", "马寨", "黄岗")
SHOP_SUFFIXES = ("小卖部", "便利店", "超市", "日杂店")
CANTEENS = ("中心小学食堂", "中学食堂", "敬老院食堂", "卫生院食堂", "建筑工地食堂")
OTHERS = ("农机站", "村委会", "养殖场", "加工厂")


def customer_name(customer_type: str, township: str, pick: list[int]) -> str:
    """A plausible Chinese name for a customer; `pick` holds four random indexes."""
    surname = SURNAMES[pick[0] % len(SURNAMES)]
    village = VILLAGES[pick[1] % len(VILLAGES)]
    if customer_type == "household":
        return surname + GIVEN_NAMES[pick[2] % len(GIVEN_NAMES)]
    if customer_type == "shop":
        return village + SHOP_SUFFIXES[pick[3] % len(SHOP_SUFFIXES)]
    town = township.removesuffix("镇")
    if customer_type == "canteen":
        return town + CANTEENS[pick[3] % len(CANTEENS)]
    if customer_type == "farm":
        return f"{surname}家庭农场" if pick[3] % 2 else f"{village}种植专业合作社"
    return town + OTHERS[pick[3] % len(OTHERS)]
