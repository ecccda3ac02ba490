"""Price system: tiers, quantity breaks, regional and promotion prices, purchase cost, and the
rule that turns them into the price of one sale.

Every change is a new row (core.product_price_history, core.product_promotion_prices,
core.product_cost_history); nothing is overwritten, so price trends can be read back. A listed
price belongs to a key (tier, region, quantity break); the key's newest row at a moment is the
one in force, and a withdrawn key (a row without a price) stops applying from that row on.
core.products.price (the national retail list price) and products.unit_cost follow the newest
rows, kept in step by the database.

The price rule, `quote(product, quantity, at, tier, region)`:

1. The quantity must be at least the SKU's minimum sale quantity (`products.min_sale_qty`),
   else BelowMinimumQuantity. (`products.min_order_qty` is the supplier's minimum, not this.)
2. Within one tier, of the prices in force at `at` that fit (national, or for the customer's
   region, with a quantity break not above the quantity) a regional price beats the national
   one, and among those the largest quantity break wins. So a region that lists only a
   single-unit price is charged that price at any quantity, whatever the national breaks say.
3. The tier asked for (wholesale or member) applies when step 2 finds it a price that is not
   above the retail price step 2 finds for the same quantity and region: a tier price is a
   privilege, never a penalty. Otherwise retail applies (also for a tier with no fitting price).
4. The lowest promotion price active at `at` (valid_from <= at < valid_until) for the tier asked
   for (or every tier) and the region (or every region) applies when it is lower still.
5. The list price is the national retail single-unit price in force at `at`: the shelf price a
   discount is measured against.

Quote.rule names what gave the unit price: 'promotion', 'regional' (a regional price, with any
break), 'quantity_break' (a national break above one unit) or 'base' (the tier's national
single-unit price); Quote.tier is the tier that applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from transactional.errors import BelowMinimumQuantity, InvalidRequest, NotFound

TIERS = ("retail", "wholesale", "member")
LIST_TIER = "retail"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ListedPrice:
    """A price in force for one key."""

    tier: str
    region: str | None
    min_quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ActivePromotion:
    promotion_price_id: int
    promotion_price: Decimal
    valid_until: datetime
    label: str | None


@dataclass(frozen=True)
class Quote:
    product_id: int
    sku_code: str
    quantity: int
    unit_price: Decimal
    list_price: Decimal
    rule: str
    tier: str
    region: str | None
    min_quantity: int
    promotion_price_id: int | None = None

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


def resolve_price(
    *,
    product_id: int,
    sku_code: str,
    quantity: int,
    tier: str,
    region: str | None,
    min_sale_qty: int,
    in_force: list[ListedPrice],
    promotions: list[ActivePromotion],
) -> Quote:
    """The price rule of the module docstring over prices already known to be in force."""
    if quantity < min_sale_qty:
        raise BelowMinimumQuantity(sku_code, quantity, min_sale_qty)
    list_price = _best_listed(in_force, LIST_TIER, None, 1)
    if list_price is None:
        raise NotFound(f"SKU {sku_code} has no retail list price at that time")
    retail = _best_listed(in_force, LIST_TIER, region, quantity)
    assert retail is not None  # the list price itself fits any quantity
    tiered = _best_listed(in_force, tier, region, quantity)
    listed = tiered if tiered is not None and tiered.unit_price <= retail.unit_price else retail
    common = {
        "product_id": product_id,
        "sku_code": sku_code,
        "quantity": quantity,
        "list_price": list_price.unit_price,
        "tier": listed.tier,
        "region": listed.region,
        "min_quantity": listed.min_quantity,
    }
    promotion = min(promotions, key=lambda p: (p.promotion_price, p.promotion_price_id), default=None)
    if promotion is not None and promotion.promotion_price < listed.unit_price:
        return Quote(
            unit_price=promotion.promotion_price,
            rule="promotion",
            promotion_price_id=promotion.promotion_price_id,
            **common,
        )
    return Quote(unit_price=listed.unit_price, rule=_listed_rule(listed), **common)


def _best_listed(in_force: list[ListedPrice], tier: str, region: str | None, quantity: int) -> ListedPrice | None:
    fitting = [
        price
        for price in in_force
        if price.tier == tier and price.min_quantity <= quantity and (price.region is None or price.region == region)
    ]
    return max(fitting, key=lambda price: (price.region is not None, price.min_quantity), default=None)


def _listed_rule(price: ListedPrice) -> str:
    if price.region is not None:
        return "regional"
    return "quantity_break" if price.min_quantity > 1 else "base"


# The newest row of every key at %(at)s, for tiers %(tiers)s, national or %(region)s's; a key
# whose newest row withdrew it is left out.
_NEWEST_PRICES = """
    SELECT tier, region, min_quantity, unit_price FROM (
        SELECT DISTINCT ON (tier, region, min_quantity) tier, region, min_quantity, unit_price
        FROM core.product_price_history
        WHERE product_id = %(product_id)s AND valid_from <= %(at)s AND tier = ANY(%(tiers)s)
          AND (region IS NULL OR region = %(region)s)
        ORDER BY tier, region, min_quantity, valid_from DESC
    ) newest_of_each_key
    WHERE unit_price IS NOT NULL
"""


def quote(
    conn: psycopg.Connection,
    *,
    product_id: int,
    quantity: int,
    at: datetime,
    tier: str = LIST_TIER,
    region: str | None = None,
) -> Quote:
    """The unit price of `quantity` units of a SKU sold at `at` to a customer of `tier` in `region`.

    One round trip (orders price every line through it): the SKU, its prices in force and its
    active promotions come back as one row.
    """
    _check_tier(tier)
    if quantity < 1:
        raise InvalidRequest(f"a quantity is at least 1, not {quantity}")
    region = _clean_region(region)
    row = conn.execute(
        f"""SELECT p.sku_code, p.min_sale_qty, listed.tiers, listed.regions, listed.breaks, listed.prices,
                   promoted.ids, promoted.prices, promoted.ends, promoted.labels
            FROM core.products p
            CROSS JOIN LATERAL (
                SELECT array_agg(tier) AS tiers, array_agg(region) AS regions, array_agg(min_quantity) AS breaks,
                       array_agg(unit_price) AS prices
                FROM ({_NEWEST_PRICES}) newest
            ) listed
            CROSS JOIN LATERAL (
                SELECT array_agg(promotion_price_id) AS ids, array_agg(promotion_price) AS prices,
                       array_agg(valid_until) AS ends, array_agg(label) AS labels
                FROM core.product_promotion_prices
                WHERE product_id = p.product_id AND valid_from <= %(at)s AND %(at)s < valid_until
                  AND (tier IS NULL OR tier = %(tier)s) AND (region IS NULL OR region = %(region)s)
            ) promoted
            WHERE p.product_id = %(product_id)s""",
        {"product_id": product_id, "at": at, "tiers": [tier, LIST_TIER], "tier": tier, "region": region},
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} does not exist")
    sku_code, min_sale_qty, tiers, regions, breaks, unit_prices, ids, promotion_prices, ends, labels = row
    return resolve_price(
        product_id=product_id,
        sku_code=sku_code,
        quantity=quantity,
        tier=tier,
        region=region,
        min_sale_qty=min_sale_qty,
        in_force=[ListedPrice(*listed) for listed in _rows(tiers, regions, breaks, unit_prices)],
        promotions=[ActivePromotion(*active) for active in _rows(ids, promotion_prices, ends, labels)],
    )


def _rows(*columns: list | None) -> list[tuple]:
    """Aggregated columns back into rows (array_agg over no rows is NULL)."""
    return list(zip(*(column or [] for column in columns), strict=True))


def set_price(
    conn: psycopg.Connection,
    *,
    product_id: int,
    unit_price: Decimal,
    at: datetime,
    tier: str = LIST_TIER,
    region: str | None = None,
    min_quantity: int = 1,
) -> int:
    """Change the price of one key from `at` on; returns the history row's id.

    The national retail single-unit price is the list price: changing it changes products.price.
    """
    _check_tier(tier)
    _check_money("price", unit_price)
    if min_quantity < 1:
        raise InvalidRequest(f"a quantity break is at least 1, not {min_quantity}")
    return _record_price(conn, product_id, tier, _clean_region(region), min_quantity, unit_price, at)


def withdraw_price(
    conn: psycopg.Connection,
    *,
    product_id: int,
    at: datetime,
    tier: str = LIST_TIER,
    region: str | None = None,
    min_quantity: int = 1,
) -> int:
    """Stop a tier, regional or quantity-break price from `at` on (the list price cannot be withdrawn)."""
    _check_tier(tier)
    region = _clean_region(region)
    if tier == LIST_TIER and region is None and min_quantity == 1:
        raise InvalidRequest(f"product {product_id}: the national retail list price can be changed, not withdrawn")
    return _record_price(conn, product_id, tier, region, min_quantity, None, at)


def _record_price(
    conn: psycopg.Connection,
    product_id: int,
    tier: str,
    region: str | None,
    min_quantity: int,
    unit_price: Decimal | None,
    at: datetime,
) -> int:
    with conn.transaction():
        merchant_id, sku_code = _lock_product(conn, product_id)
        latest = conn.execute(
            """SELECT valid_from, unit_price FROM core.product_price_history
               WHERE product_id = %s AND tier = %s AND region IS NOT DISTINCT FROM %s AND min_quantity = %s
               ORDER BY valid_from DESC LIMIT 1""",
            [product_id, tier, region, min_quantity],
        ).fetchone()
        key = _describe_key(tier, region, min_quantity)
        if latest is not None and latest[0] >= at:
            raise InvalidRequest(
                f"SKU {sku_code}: the {key} was last changed at {latest[0].isoformat()}; "
                f"a change at {at.isoformat()} would rewrite its history"
            )
        if unit_price is None and (latest is None or latest[1] is None):
            raise InvalidRequest(f"SKU {sku_code} has no {key} to withdraw")
        row = conn.execute(
            """INSERT INTO core.product_price_history (merchant_id, product_id, tier, region, min_quantity,
                   unit_price, valid_from)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING price_change_id""",
            [merchant_id, product_id, tier, region, min_quantity, unit_price, at],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _describe_key(tier: str, region: str | None, min_quantity: int) -> str:
    where = f"region {region}" if region else "national"
    return f"{tier} price ({where}, from {min_quantity} units)"


def set_promotion_price(
    conn: psycopg.Connection,
    *,
    product_id: int,
    promotion_price: Decimal,
    valid_from: datetime,
    valid_until: datetime,
    at: datetime,
    tier: str | None = None,
    region: str | None = None,
    label: str | None = None,
) -> int:
    """A temporary price for [valid_from, valid_until), recorded at `at`; tier/region None = all."""
    if tier is not None:
        _check_tier(tier)
    _check_money("promotion price", promotion_price)
    with conn.transaction():
        merchant_id, sku_code = _lock_product(conn, product_id)
        if valid_until <= valid_from:
            raise InvalidRequest(
                f"SKU {sku_code}: a promotion price must end after it starts "
                f"(valid_from {valid_from.isoformat()}, valid_until {valid_until.isoformat()})"
            )
        if valid_until <= at:
            raise InvalidRequest(f"SKU {sku_code}: a promotion ending {valid_until.isoformat()} is already over")
        try:
            with conn.transaction():
                row = conn.execute(
                    """INSERT INTO core.product_promotion_prices (merchant_id, product_id, tier, region,
                           promotion_price, valid_from, valid_until, label, recorded_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING promotion_price_id""",
                    [
                        merchant_id,
                        product_id,
                        tier,
                        _clean_region(region),
                        promotion_price,
                        valid_from,
                        valid_until,
                        label,
                        at,
                    ],
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise InvalidRequest(
                f"SKU {sku_code} already has a promotion price starting {valid_from.isoformat()} "
                "for that tier and region"
            ) from None
    assert row is not None
    return int(row[0])


def set_unit_cost(conn: psycopg.Connection, *, product_id: int, unit_cost: Decimal, at: datetime) -> int:
    """Change the SKU's purchase cost from `at` on (products.unit_cost follows); returns the history row's id."""
    _check_money("unit cost", unit_cost)
    with conn.transaction():
        merchant_id, sku_code = _lock_product(conn, product_id)
        latest = conn.execute(
            "SELECT max(valid_from) FROM core.product_cost_history WHERE product_id = %s", [product_id]
        ).fetchone()
        if latest is not None and latest[0] is not None and latest[0] >= at:
            raise InvalidRequest(
                f"SKU {sku_code}: the unit cost was last changed at {latest[0].isoformat()}; "
                f"a change at {at.isoformat()} would rewrite its history"
            )
        row = conn.execute(
            """INSERT INTO core.product_cost_history (merchant_id, product_id, unit_cost, valid_from)
               VALUES (%s, %s, %s, %s) RETURNING cost_change_id""",
            [merchant_id, product_id, unit_cost, at],
        ).fetchone()
    assert row is not None
    return int(row[0])


def set_min_sale_qty(conn: psycopg.Connection, *, product_id: int, min_sale_qty: int, at: datetime) -> None:
    """The least a customer may buy of the SKU (the supplier's minimum is products.min_order_qty)."""
    if min_sale_qty < 1:
        raise InvalidRequest(f"a minimum sale quantity is at least 1, not {min_sale_qty}")
    with conn.transaction():
        _lock_product(conn, product_id)
        conn.execute(
            "UPDATE core.products SET min_sale_qty = %s, updated_at = greatest(updated_at, %s) WHERE product_id = %s",
            [min_sale_qty, at, product_id],
        )


def _lock_product(conn: psycopg.Connection, product_id: int) -> tuple[int, str]:
    """Price changes of one SKU queue on its row, so its history only grows forward in time."""
    row = conn.execute(
        "SELECT merchant_id, sku_code FROM core.products WHERE product_id = %s FOR NO KEY UPDATE", [product_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} does not exist")
    return int(row[0]), str(row[1])


def _check_tier(tier: str) -> None:
    if tier not in TIERS:
        raise InvalidRequest(f"price tier must be one of {', '.join(TIERS)}, not {tier!r}")


def _check_money(what: str, amount: Decimal) -> None:
    is_number = (isinstance(amount, Decimal) and amount.is_finite()) or type(amount) is int
    if not is_number or amount < 0 or amount % CENT != 0:
        raise InvalidRequest(f"a {what} is a non-negative amount in yuan with at most two decimals, not {amount}")


def _clean_region(region: str | None) -> str | None:
    if region is None:
        return None
    cleaned = region.strip()
    return cleaned or None
