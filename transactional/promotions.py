"""Promotions and coupons, and the rule that turns them into an order's discounts.

Kinds a merchant runs (core.promotions), each valid for [starts_at, ends_at):
- full reduction (满减): spend `threshold_amount`, get `reduction_amount` off; with
  `repeat_per_threshold` once per full threshold (spend 250 on "100 off 20" → 40 off);
- percentage discount: `percent_off` % off each line in scope;
- flash sale (秒杀): one SKU at `flash_price` for at most `quantity_cap` units in all (and
  `per_customer_limit` per customer); the database refuses any sale beyond the cap.
Scope: one SKU, one category (any level of the tree), or the whole shop. Coupons
(core.coupons) take `amount_off` or `percent_off` off an order, from a threshold, within their
validity, at most `per_customer_limit` times per customer and `total_quantity` times in all; a
new-customer coupon only on a customer's first order that is not cancelled.

The combination rule, in this order (every amount in cents, rounded half up unless said):
1. Base: each line's unit price × quantity, less any manual line discount the caller gave.
2. Line promotions: each line takes the single line-level promotion that saves it most (flash
   sale or percentage; ties to the older promotion). A flash sale applies only when what is left
   of its cap (and of the customer's limit) covers the whole line; otherwise the line pays the
   usual price. A flash-sale line takes no further discount and does not count towards any
   threshold below.
3. Full reduction: the one full reduction that saves most, on the net amount of the other lines
   in its scope, when that amount reaches its threshold.
4. Coupon: at most one per order, on the net amount of the non-flash lines after step 3; its
   threshold is measured on that amount. A coupon that does not apply refuses the order (the
   customer asked for it) rather than being silently dropped.
5. No discount exceeds what it applies to, so no line goes below zero. An order-level discount
   (steps 3-4) is spread over its lines in proportion to their net amounts, each share rounded
   down to the cent, the remaining cents to the largest line (then the next largest, should a
   line have no room left). order_lines.discount_amount is the sum of everything a line got,
   so its line_amount is the net revenue; core.order_discounts says what each part came from.
A cancelled order gives back its flash-sale units and its coupon use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import psycopg

from transactional.errors import CouponRefused, InvalidRequest, NotFound

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class LineToPrice:
    product_id: int
    quantity: int
    unit_price: Decimal
    manual_discount: Decimal
    category_ids: frozenset[int]  # the SKU's leaf category and its ancestors

    @property
    def base_net(self) -> Decimal:
        return self.unit_price * self.quantity - self.manual_discount


@dataclass(frozen=True)
class Offer:
    """A promotion valid at the order's time; `units_left` is what a flash sale can still sell
    to this customer (NULL for other kinds)."""

    promotion_id: int
    kind: str
    product_id: int | None
    category_id: int | None
    threshold_amount: Decimal | None
    reduction_amount: Decimal | None
    repeat_per_threshold: bool
    percent_off: Decimal | None
    flash_price: Decimal | None
    units_left: int | None

    def covers(self, line: LineToPrice) -> bool:
        if self.product_id is not None:
            return line.product_id == self.product_id
        return self.category_id is None or self.category_id in line.category_ids


@dataclass(frozen=True)
class CouponTerms:
    coupon_id: int
    coupon_code: str
    amount_off: Decimal | None
    percent_off: Decimal | None
    threshold_amount: Decimal


@dataclass(frozen=True)
class AppliedDiscount:
    """One row of core.order_discounts; line_index None = order level."""

    line_index: int | None
    source: str
    amount: Decimal
    promotion_id: int | None = None
    coupon_id: int | None = None


@dataclass(frozen=True)
class Pricing:
    line_discounts: tuple[Decimal, ...]  # everything each line got, manual discount included
    applied: tuple[AppliedDiscount, ...]
    flash_units: dict[int, int]  # promotion_id -> units sold at the flash price
    coupon_id: int | None


def spread(amount: Decimal, nets: Sequence[Decimal]) -> list[Decimal]:
    """Share an order-level discount over lines by net amount, in cents (rule 5)."""
    total = sum(nets, Decimal(0))
    if amount > total:
        raise ValueError(f"a discount of {amount} cannot be spread over {total}")
    shares = [(amount * net / total).quantize(CENT, ROUND_DOWN) if total else Decimal(0) for net in nets]
    remainder = amount - sum(shares, Decimal(0))
    for index in sorted(range(len(nets)), key=lambda i: (-nets[i], i)):
        take = min(remainder, nets[index] - shares[index])
        shares[index] += take
        remainder -= take
    return shares


def _line_discount(offer: Offer, line: LineToPrice, net: Decimal) -> Decimal:
    if offer.kind == "flash_sale":
        assert offer.flash_price is not None
        return min(max((line.unit_price - offer.flash_price) * line.quantity, Decimal(0)), net)
    assert offer.percent_off is not None
    return min(to_cents(net * offer.percent_off / 100), net)


def _full_reduction(offer: Offer, eligible: Decimal) -> Decimal:
    assert offer.threshold_amount is not None and offer.reduction_amount is not None
    if eligible < offer.threshold_amount:
        return Decimal(0)
    times = int(eligible // offer.threshold_amount) if offer.repeat_per_threshold else 1
    return min(offer.reduction_amount * times, eligible)


def price_order(lines: Sequence[LineToPrice], offers: Sequence[Offer], coupon: CouponTerms | None) -> Pricing:
    """Apply the combination rule of the module docstring; pure, so the rule is testable alone."""
    nets = [line.base_net for line in lines]
    applied = [
        AppliedDiscount(index, "manual", line.manual_discount)
        for index, line in enumerate(lines)
        if line.manual_discount > 0
    ]
    flash_units: dict[int, int] = {}
    flash_lines: set[int] = set()
    units_left = {offer.promotion_id: offer.units_left or 0 for offer in offers if offer.kind == "flash_sale"}

    for index, line in enumerate(lines):
        candidates = [
            (_line_discount(offer, line, nets[index]), offer)
            for offer in offers
            if offer.kind in ("flash_sale", "percentage")
            and offer.covers(line)
            and (offer.kind != "flash_sale" or units_left[offer.promotion_id] >= line.quantity)
        ]
        candidates = [(amount, offer) for amount, offer in candidates if amount > 0]
        if not candidates:
            continue
        amount, best = min(candidates, key=lambda pair: (-pair[0], pair[1].promotion_id))
        nets[index] -= amount
        applied.append(AppliedDiscount(index, "promotion", amount, promotion_id=best.promotion_id))
        if best.kind == "flash_sale":
            units_left[best.promotion_id] -= line.quantity
            flash_units[best.promotion_id] = flash_units.get(best.promotion_id, 0) + line.quantity
            flash_lines.add(index)

    def in_scope(offer: Offer | None) -> list[int]:
        return [i for i, line in enumerate(lines) if i not in flash_lines and (offer is None or offer.covers(line))]

    reductions = [
        (_full_reduction(offer, sum((nets[i] for i in in_scope(offer)), Decimal(0))), offer)
        for offer in offers
        if offer.kind == "full_reduction"
    ]
    reductions = [(amount, offer) for amount, offer in reductions if amount > 0]
    if reductions:
        amount, best = min(reductions, key=lambda pair: (-pair[0], pair[1].promotion_id))
        _spread_into(nets, in_scope(best), amount)
        applied.append(AppliedDiscount(None, "promotion", amount, promotion_id=best.promotion_id))

    if coupon is not None:
        eligible_lines = in_scope(None)
        eligible = sum((nets[i] for i in eligible_lines), Decimal(0))
        if eligible <= 0 or eligible < coupon.threshold_amount:
            raise CouponRefused(
                f"coupon {coupon.coupon_code} needs {coupon.threshold_amount} of goods outside flash sales "
                f"after promotions; this order has {eligible}"
            )
        if coupon.amount_off is not None:
            amount = min(coupon.amount_off, eligible)
        else:
            assert coupon.percent_off is not None
            amount = min(to_cents(eligible * coupon.percent_off / 100), eligible)
        _spread_into(nets, eligible_lines, amount)
        applied.append(AppliedDiscount(None, "coupon", amount, coupon_id=coupon.coupon_id))

    discounts = tuple(line.unit_price * line.quantity - net for line, net in zip(lines, nets, strict=True))
    return Pricing(discounts, tuple(applied), flash_units, coupon.coupon_id if coupon else None)


def _spread_into(nets: list[Decimal], indexes: list[int], amount: Decimal) -> None:
    for index, share in zip(indexes, spread(amount, [nets[i] for i in indexes]), strict=True):
        nets[index] -= share


def load_offers(
    conn: psycopg.Connection, *, merchant_id: int, customer_id: int, product_ids: Sequence[int], at: datetime
) -> list[Offer]:
    """The merchant's promotions valid at `at` that could touch these SKUs.

    Flash sales of these SKUs are locked (in id order), so concurrent buyers queue on them and
    the units left are exact until this transaction ends.
    """
    rows = conn.execute(
        """SELECT promotion_id, kind, product_id, category_id, threshold_amount, reduction_amount,
                  repeat_per_threshold, percent_off, flash_price
           FROM core.promotions
           WHERE merchant_id = %s AND starts_at <= %s AND %s < ends_at
             AND (kind <> 'flash_sale' OR product_id = ANY(%s))
           ORDER BY promotion_id""",
        [merchant_id, at, at, list(product_ids)],
    ).fetchall()
    flash_ids = [row[0] for row in rows if row[1] == "flash_sale"]
    units_left = _flash_units_left(conn, flash_ids, customer_id) if flash_ids else {}
    return [Offer(*row, units_left=units_left.get(row[0])) for row in rows]


def _flash_units_left(conn: psycopg.Connection, promotion_ids: list[int], customer_id: int) -> dict[int, int]:
    left = dict(
        conn.execute(
            """SELECT promotion_id, quantity_cap - sold_quantity FROM core.promotions
               WHERE promotion_id = ANY(%s) ORDER BY promotion_id FOR NO KEY UPDATE""",
            [promotion_ids],
        ).fetchall()
    )
    limited = conn.execute(
        """SELECT p.promotion_id, p.per_customer_limit - COALESCE(bought.units, 0)
           FROM core.promotions p
           LEFT JOIN LATERAL (
               SELECT sum(l.quantity) AS units
               FROM core.order_discounts d
               JOIN core.order_lines l ON l.order_line_id = d.order_line_id
               JOIN core.orders o ON o.order_id = d.order_id
               WHERE d.promotion_id = p.promotion_id AND o.customer_id = %s AND o.status <> 'cancelled'
           ) bought ON true
           WHERE p.promotion_id = ANY(%s) AND p.per_customer_limit IS NOT NULL""",
        [customer_id, promotion_ids],
    ).fetchall()
    for promotion_id, customer_left in limited:
        left[promotion_id] = min(left[promotion_id], int(customer_left))
    return left


def load_coupon(
    conn: psycopg.Connection, *, merchant_id: int, customer_id: int, coupon_code: str, at: datetime
) -> CouponTerms:
    """The coupon, locked, once its validity and use limits allow this customer to use it now.

    The database checks the same limits again when the use is recorded; this gives the customer
    a message naming the coupon.
    """
    row = conn.execute(
        """SELECT coupon_id, amount_off, percent_off, threshold_amount, valid_from, valid_until, per_customer_limit,
                  total_quantity, new_customers_only
           FROM core.coupons WHERE merchant_id = %s AND coupon_code = %s FOR NO KEY UPDATE""",
        [merchant_id, coupon_code],
    ).fetchone()
    if row is None:
        raise CouponRefused(f"coupon {coupon_code} does not exist")
    coupon_id, amount_off, percent_off, threshold, valid_from, valid_until, per_customer, total, new_only = row
    if not valid_from <= at < valid_until:
        raise CouponRefused(
            f"coupon {coupon_code} is valid from {valid_from:%Y-%m-%d %H:%M} until {valid_until:%Y-%m-%d %H:%M}"
        )
    customer_uses, total_uses = conn.execute(
        """SELECT count(*) FILTER (WHERE r.customer_id = %s), count(*)
           FROM core.coupon_redemptions r JOIN core.orders o USING (order_id)
           WHERE r.coupon_id = %s AND o.status <> 'cancelled'""",
        [customer_id, coupon_id],
    ).fetchone() or (0, 0)
    if customer_uses >= per_customer:
        raise CouponRefused(f"coupon {coupon_code} was already used {customer_uses} time(s) by this customer")
    if total is not None and total_uses >= total:
        raise CouponRefused(f"coupon {coupon_code} is used up")
    if new_only and _has_live_orders(conn, customer_id):
        raise CouponRefused(f"coupon {coupon_code} is for a customer's first order only")
    return CouponTerms(coupon_id, coupon_code, amount_off, percent_off, threshold)


def _has_live_orders(conn: psycopg.Connection, customer_id: int) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM core.orders WHERE customer_id = %s AND status <> 'cancelled')", [customer_id]
    ).fetchone()
    return bool(row and row[0])


def record_pricing(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    order_id: int,
    customer_id: int,
    line_ids: Sequence[int],
    pricing: Pricing,
    at: datetime,
) -> None:
    """Write what the order was given, take its flash-sale units and record its coupon use."""
    if pricing.applied:
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO core.order_discounts (order_id, merchant_id, order_line_id, source, promotion_id,
                       coupon_id, amount)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                [
                    [
                        order_id,
                        merchant_id,
                        None if d.line_index is None else line_ids[d.line_index],
                        d.source,
                        d.promotion_id,
                        d.coupon_id,
                        d.amount,
                    ]
                    for d in pricing.applied
                ],
            )
    for promotion_id, units in sorted(pricing.flash_units.items()):
        conn.execute(
            "UPDATE core.promotions SET sold_quantity = sold_quantity + %s WHERE promotion_id = %s",
            [units, promotion_id],
        )
    if pricing.coupon_id is not None:
        conn.execute(
            """INSERT INTO core.coupon_redemptions (order_id, merchant_id, coupon_id, customer_id, redeemed_at)
               VALUES (%s, %s, %s, %s, %s)""",
            [order_id, merchant_id, pricing.coupon_id, customer_id, at],
        )


def release_flash_units(conn: psycopg.Connection, order_id: int) -> None:
    """A cancelled order's flash-sale units go back on sale (its coupon use stops counting by itself)."""
    conn.execute(
        """UPDATE core.promotions p SET sold_quantity = p.sold_quantity - taken.units
           FROM (SELECT d.promotion_id, sum(l.quantity) AS units
                 FROM core.order_discounts d
                 JOIN core.order_lines l ON l.order_line_id = d.order_line_id
                 JOIN core.promotions fp ON fp.promotion_id = d.promotion_id AND fp.kind = 'flash_sale'
                 WHERE d.order_id = %s
                 GROUP BY d.promotion_id) taken
           WHERE p.promotion_id = taken.promotion_id""",
        [order_id],
    )


def _require_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidRequest(f"a promotion must end after it starts ({starts_at:%Y-%m-%d %H:%M})")


def _require_positive(value: Decimal | int, what: str) -> None:
    if value <= 0:
        raise InvalidRequest(f"{what} must be positive, not {value}")


def _require_percent(percent_off: Decimal) -> None:
    if not 0 < percent_off < 100:
        raise InvalidRequest(f"a percentage discount is between 0 and 100 %, not {percent_off}")


def _insert_promotion(
    conn: psycopg.Connection, merchant_id: int, product_id: int | None, at: datetime, values: dict[str, object]
) -> int:
    columns = ["merchant_id", "product_id", "created_at", *values]
    with conn.transaction():
        if product_id is not None:
            _require_product_of(conn, merchant_id, product_id)
        row = conn.execute(
            f"INSERT INTO core.promotions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            " RETURNING promotion_id",
            [merchant_id, product_id, at, *values.values()],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _require_product_of(conn: psycopg.Connection, merchant_id: int, product_id: int) -> None:
    row = conn.execute(
        "SELECT 1 FROM core.products WHERE product_id = %s AND merchant_id = %s", [product_id, merchant_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} does not belong to merchant {merchant_id}")


def create_full_reduction(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    promotion_code: str,
    name: str,
    threshold_amount: Decimal,
    reduction_amount: Decimal,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
    repeat_per_threshold: bool = False,
    product_id: int | None = None,
    category_id: int | None = None,
) -> int:
    """满减: spend `threshold_amount` in scope, get `reduction_amount` off (per threshold when repeated)."""
    _require_window(starts_at, ends_at)
    _require_positive(threshold_amount, "the threshold")
    _require_positive(reduction_amount, "the reduction")
    if reduction_amount > threshold_amount:
        raise InvalidRequest(f"a reduction of {reduction_amount} cannot exceed its threshold {threshold_amount}")
    return _insert_promotion(
        conn,
        merchant_id,
        product_id,
        at,
        {
            "promotion_code": promotion_code,
            "name": name,
            "kind": "full_reduction",
            "starts_at": starts_at,
            "ends_at": ends_at,
            "category_id": category_id,
            "threshold_amount": threshold_amount,
            "reduction_amount": reduction_amount,
            "repeat_per_threshold": repeat_per_threshold,
        },
    )


def create_percentage_discount(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    promotion_code: str,
    name: str,
    percent_off: Decimal,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
    product_id: int | None = None,
    category_id: int | None = None,
) -> int:
    """`percent_off` % off every line in scope (10 = 10 % off, what the shelf calls 9折)."""
    _require_window(starts_at, ends_at)
    _require_percent(percent_off)
    return _insert_promotion(
        conn,
        merchant_id,
        product_id,
        at,
        {
            "promotion_code": promotion_code,
            "name": name,
            "kind": "percentage",
            "starts_at": starts_at,
            "ends_at": ends_at,
            "category_id": category_id,
            "percent_off": percent_off,
        },
    )


def create_flash_sale(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    promotion_code: str,
    name: str,
    product_id: int,
    flash_price: Decimal,
    quantity_cap: int,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
    per_customer_limit: int | None = None,
) -> int:
    """秒杀: one SKU at `flash_price` for at most `quantity_cap` units in all."""
    _require_window(starts_at, ends_at)
    _require_positive(quantity_cap, "the quantity cap")
    if flash_price < 0:
        raise InvalidRequest(f"a flash price cannot be negative ({flash_price})")
    if per_customer_limit is not None:
        _require_positive(per_customer_limit, "the per-customer limit")
    return _insert_promotion(
        conn,
        merchant_id,
        product_id,
        at,
        {
            "promotion_code": promotion_code,
            "name": name,
            "kind": "flash_sale",
            "starts_at": starts_at,
            "ends_at": ends_at,
            "flash_price": flash_price,
            "quantity_cap": quantity_cap,
            "per_customer_limit": per_customer_limit,
        },
    )


def create_coupon(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    coupon_code: str,
    name: str,
    valid_from: datetime,
    valid_until: datetime,
    at: datetime,
    amount_off: Decimal | None = None,
    percent_off: Decimal | None = None,
    threshold_amount: Decimal = Decimal("0"),
    per_customer_limit: int = 1,
    total_quantity: int | None = None,
    new_customers_only: bool = False,
) -> int:
    """A coupon customers quote by code: `amount_off` or `percent_off`, from `threshold_amount`."""
    if (amount_off is None) == (percent_off is None):
        raise InvalidRequest(f"coupon {coupon_code} takes either an amount or a percentage off")
    if amount_off is not None:
        _require_positive(amount_off, "the amount off")
    if percent_off is not None:
        _require_percent(percent_off)
    if valid_until <= valid_from:
        raise InvalidRequest(f"coupon {coupon_code} must stay valid for some time")
    if threshold_amount < 0:
        raise InvalidRequest(f"coupon {coupon_code}: the threshold cannot be negative")
    _require_positive(per_customer_limit, "the per-customer limit")
    if total_quantity is not None:
        _require_positive(total_quantity, "the number of coupons issued")
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO core.coupons (merchant_id, coupon_code, name, amount_off, percent_off, threshold_amount,
                   valid_from, valid_until, per_customer_limit, total_quantity, new_customers_only, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING coupon_id""",
            [
                merchant_id,
                coupon_code,
                name,
                amount_off,
                percent_off,
                threshold_amount,
                valid_from,
                valid_until,
                per_customer_limit,
                total_quantity,
                new_customers_only,
                at,
            ],
        ).fetchone()
    assert row is not None
    return int(row[0])
