"""How big a simulated network is: merchants, assortment, customers, order volume, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Fixed, so the same seed gives the same history whenever it runs (never the wall clock).
LAST_DATE = date(2026, 10, 31)


@dataclass(frozen=True)
class WarehouseSpec:
    code: str
    name: str
    townships: tuple[str, ...]  # where the customers it serves live


@dataclass(frozen=True)
class MerchantSpec:
    code: str
    name: str
    merchant_type: str
    region: str
    warehouses: tuple[WarehouseSpec, ...]
    skus: int
    customers: int
    orders_per_day: float
    growth_per_year: float


@dataclass(frozen=True)
class Scale:
    name: str
    last_date: date
    history_days: int
    merchants: tuple[MerchantSpec, ...]
    stopped_share: float = 0.08  # of SKUs whose demand stops for good
    launched_share: float = 0.05  # of SKUs launched during the history
    churned_share: float = 0.12  # of the first customers who stop buying
    joined_share: float = 0.20  # customers joining later, relative to the first ones
    cancel_rate: float = 0.03  # of orders cancelled before shipment

    @property
    def first_date(self) -> date:
        return self.last_date - timedelta(days=self.history_days - 1)


TOWNSHIPS_WEST = ("城关镇", "杨桥镇", "迎仙镇", "艾亭镇", "张新镇", "陈集镇")
TOWNSHIPS_EAST = ("姜寨镇", "韦寨镇", "宋集镇", "瓦店镇", "老集镇", "单桥镇")


def _county_coop(skus: int, customers: int, orders_per_day: float) -> MerchantSpec:
    return MerchantSpec(
        "M001",
        "城关供销社",
        "county_coop",
        "临泉县",
        (
            WarehouseSpec("WH01", "城关中心仓", TOWNSHIPS_WEST),
            WarehouseSpec("WH02", "姜寨分仓", TOWNSHIPS_EAST),
        ),
        skus,
        customers,
        orders_per_day,
        0.12,
    )


def _wholesaler(warehouses: int, skus: int, customers: int, orders_per_day: float) -> MerchantSpec:
    both = (WarehouseSpec("WH01", "惠农仓库", TOWNSHIPS_WEST + TOWNSHIPS_EAST),)
    split = (WarehouseSpec("WH01", "城南仓库", TOWNSHIPS_WEST), WarehouseSpec("WH02", "老集仓库", TOWNSHIPS_EAST))
    return MerchantSpec(
        "M002",
        "惠农农资批发部",
        "wholesaler",
        "临泉县",
        both if warehouses == 1 else split,
        skus,
        customers,
        orders_per_day,
        0.06,
    )


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        "tiny",
        LAST_DATE,
        history_days=273,
        merchants=(_county_coop(24, 80, 4.5), _wholesaler(1, 20, 50, 2.5)),
    ),
    "small": Scale(
        "small",
        LAST_DATE,
        history_days=488,
        merchants=(
            _county_coop(120, 400, 20),
            _wholesaler(2, 90, 220, 10),
            MerchantSpec(
                "M003",
                "杨桥镇基层供销社",
                "grassroots_coop",
                "临泉县",
                (WarehouseSpec("WH01", "杨桥仓", ("杨桥镇", "张新镇", "陈集镇")),),
                80,
                200,
                12,
                0.08,
            ),
            MerchantSpec(
                "M004",
                "幸福村便民超市",
                "retailer",
                "临泉县",
                (WarehouseSpec("WH01", "门店仓", ("城关镇",)),),
                60,
                260,
                14,
                0.15,
            ),
        ),
    ),
}


# A county network: the county co-op, and around it grassroots co-ops, wholesalers and village
# retailers in every township, each with its own customers and its own suppliers.
COUNTY_TOWNSHIPS = TOWNSHIPS_WEST + TOWNSHIPS_EAST
COUNTY_MIX = (  # (type, how many, name suffix, SKUs, customers, orders per day, growth per year)
    ("grassroots_coop", 30, "基层供销社", 90, 420, 60, 0.08),
    ("wholesaler", 20, "农资批发部", 110, 320, 60, 0.06),
    ("retailer", 149, "便民超市", 40, 230, 31, 0.12),
)


def _county_network() -> tuple[MerchantSpec, ...]:
    merchants = [_county_coop(420, 4800, 600)]
    for merchant_type, count, suffix, skus, customers, orders_per_day, growth in COUNTY_MIX:
        for number in range(count):
            code = f"M{len(merchants) + 1:03d}"
            township = COUNTY_TOWNSHIPS[(len(merchants) + number) % len(COUNTY_TOWNSHIPS)]
            village = f"{township.removesuffix('镇')}{number // len(COUNTY_TOWNSHIPS) + 1}号"
            neighbours = tuple(
                COUNTY_TOWNSHIPS[(COUNTY_TOWNSHIPS.index(township) + step) % len(COUNTY_TOWNSHIPS)] for step in range(3)
            )
            # Sizes vary around the type's norm, the same way for every seed.
            size = 0.25 + 1.5 * ((number * 37) % 11) / 10
            merchants.append(
                MerchantSpec(
                    code,
                    f"{village}{suffix}",
                    merchant_type,
                    "临泉县",
                    (WarehouseSpec("WH01", f"{village}仓", neighbours),),
                    max(20, round(skus * size)),
                    max(60, round(customers * size)),
                    orders_per_day * size,
                    growth,
                )
            )
    return tuple(merchants)


SCALES["county"] = Scale("county", LAST_DATE, history_days=731, merchants=_county_network())


def scale_named(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        allowed = ", ".join(SCALES)
        raise ValueError(f"unknown scale {name!r}: choose one of {allowed}") from None
