"""Purchasing: suppliers (grade, blacklist, agreements), purchase orders with a multi-level
approval for large amounts, and receipts that record each delivery's timeliness and quality.

A purchase order's life:

    draft --submit--> pending_approval, or open when the amount needs no approval
    pending_approval --levels 1..N approve, in order--> open --a delivery--> partially_received
    open | partially_received --the last outstanding unit passes inspection--> received
    pending_approval --any level rejects--> rejected
    draft | pending_approval | open | partially_received --cancel--> cancelled

A draft (what `coopcast replenish --approve` makes of the replenishment suggestions) is neither
sent nor on order: procurement checks it, then submits it, and only then is its approval level
fixed from its amount.

Approval: a merchant's rules (core.purchase_approval_rules) map an amount threshold to a
required level. An order whose amount (sum of quantity x unit cost) reaches thresholds needs the
highest of their levels, and levels 1 to that level sign one after the other, each by a
different approver; any level may reject it. A merchant without rules, the default, needs no
approval: its orders open (are sent) at once. The level an order needs is fixed when it is
created; the database refuses at commit an order whose recorded level is below what the rules
demand of its amount, so no write path can skip the approval.

Receipts: each delivery is one row of core.purchase_receipts, on time when its business date
(Asia/Shanghai) is on or before the order's expected business date. Each SKU delivered is
inspected: passed units enter stock as a new batch (transactional.stock.receive_stock), rejected
units are recorded with their reason and stay outstanding on the order, for a later delivery or a
cancellation. An order line's received_quantity is the sum of its passed units.

Blacklist: the database refuses an order to a blacklisted supplier when the order is created,
moved to that supplier, or would be sent after its last approval; orders already sent may still
be delivered and received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from transactional.catalogue import check_supplier_grade
from transactional.errors import InvalidRequest, InvalidTransition, NotFound, SupplierBlacklisted
from transactional.limits import MAX_ORDER_AMOUNT
from transactional.stock import receive_stock

MAX_APPROVAL_LEVEL = 9
RECEIVABLE_STATUSES = ("open", "partially_received")
CANCELLABLE_STATUSES = ("draft", "pending_approval", "open", "partially_received")


@dataclass(frozen=True)
class PurchaseLineRequest:
    """One SKU to order; without a unit cost, the supplier agreement's price or else the SKU's cost."""

    product_id: int
    quantity: int
    unit_cost: Decimal | None = None


@dataclass(frozen=True)
class Inspection:
    """The quality check of one SKU in a delivery: how many units failed, and why."""

    rejected_quantity: int
    reason: str


@dataclass(frozen=True)
class Receipt:
    receipt_id: int
    purchase_order_id: int
    status: str
    on_time: bool
    days_late: int
    delivered_quantity: int
    passed_quantity: int
    rejected_quantity: int
    batch_ids: tuple[int, ...]


@dataclass(frozen=True)
class Agreement:
    agreement_id: int
    agreement_code: str
    supplier_id: int
    rebate_pct: Decimal
    valid_from: datetime
    valid_until: datetime | None
    agreed_unit_costs: dict[int, Decimal]


@dataclass(frozen=True)
class SupplierPerformance:
    supplier_id: int
    deliveries: int
    on_time_deliveries: int
    delivered_units: int
    passed_units: int

    @property
    def on_time_rate(self) -> float | None:
        """交货及时率: the share of deliveries that arrived by their expected date."""
        return self.on_time_deliveries / self.deliveries if self.deliveries else None

    @property
    def quality_pass_rate(self) -> float | None:
        """质量合格率: the share of delivered units that passed inspection."""
        return self.passed_units / self.delivered_units if self.delivered_units else None


@dataclass(frozen=True)
class _Supplier:
    supplier_code: str
    lead_time_days: int
    is_blacklisted: bool
    blacklist_reason: str | None


@dataclass(frozen=True)
class _PurchaseOrder:
    purchase_order_id: int
    merchant_id: int
    po_no: str
    supplier_id: int
    warehouse_id: int
    status: str
    required_approval_level: int
    approved_level: int


@dataclass(frozen=True)
class _OrderLine:
    purchase_order_line_id: int
    product_id: int
    sku_code: str
    outstanding: int
    unit_cost: Decimal


# Suppliers


def set_supplier_grade(conn: psycopg.Connection, supplier_id: int, grade: str, at: datetime) -> None:
    """Record the supplier's qualification grade (A best, D worst)."""
    check_supplier_grade(grade)
    with conn.transaction():
        _supplier(conn, supplier_id)
        conn.execute(
            "UPDATE core.suppliers SET qualification_grade = %s, updated_at = %s WHERE supplier_id = %s",
            [grade, at, supplier_id],
        )


def blacklist_supplier(conn: psycopg.Connection, supplier_id: int, reason: str, at: datetime) -> None:
    """No new purchase order may go to the supplier from now on."""
    if not reason.strip():
        raise InvalidRequest(f"blacklisting supplier {supplier_id} needs a reason")
    with conn.transaction():
        supplier = _supplier(conn, supplier_id, lock=True)
        if supplier.is_blacklisted:
            raise InvalidTransition(f"supplier {supplier.supplier_code} is already blacklisted")
        conn.execute(
            """UPDATE core.suppliers SET is_blacklisted = true, blacklist_reason = %s, blacklisted_at = %s,
                   updated_at = %s WHERE supplier_id = %s""",
            [reason.strip(), at, at, supplier_id],
        )


def lift_supplier_blacklist(conn: psycopg.Connection, supplier_id: int, at: datetime) -> None:
    with conn.transaction():
        supplier = _supplier(conn, supplier_id, lock=True)
        if not supplier.is_blacklisted:
            raise InvalidTransition(f"supplier {supplier.supplier_code} is not blacklisted")
        conn.execute(
            """UPDATE core.suppliers SET is_blacklisted = false, blacklist_reason = NULL, blacklisted_at = NULL,
                   updated_at = %s WHERE supplier_id = %s""",
            [at, supplier_id],
        )


def _supplier(
    conn: psycopg.Connection, supplier_id: int, *, merchant_id: int | None = None, lock: bool = False
) -> _Supplier:
    row = conn.execute(
        f"""SELECT supplier_code, lead_time_days, is_blacklisted, blacklist_reason FROM core.suppliers
            WHERE supplier_id = %s AND merchant_id = coalesce(%s, merchant_id)
            {"FOR NO KEY UPDATE" if lock else "FOR SHARE"}""",
        [supplier_id, merchant_id],
    ).fetchone()
    if row is None:
        owner = f" of merchant {merchant_id}" if merchant_id is not None else ""
        raise NotFound(f"supplier {supplier_id}{owner} does not exist")
    return _Supplier(*row)


def create_supplier_agreement(
    conn: psycopg.Connection,
    *,
    supplier_id: int,
    agreement_code: str,
    valid_from: datetime,
    at: datetime,
    agreed_unit_costs: Mapping[int, Decimal],
    rebate_pct: Decimal = Decimal("0"),
    valid_until: datetime | None = None,
) -> int:
    """An agreement (agreed unit cost per SKU, rebate %) in force from valid_from until valid_until
    or until the supplier's next agreement starts."""
    if not Decimal(0) <= rebate_pct <= Decimal(100):
        raise InvalidRequest(f"agreement {agreement_code}: a rebate is 0 to 100 %, not {rebate_pct}")
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidRequest(f"agreement {agreement_code} must end after it starts")
    if any(cost < 0 for cost in agreed_unit_costs.values()):
        raise InvalidRequest(f"agreement {agreement_code}: agreed unit costs cannot be negative")
    with conn.transaction():
        _supplier(conn, supplier_id)
        clash = conn.execute(
            """SELECT agreement_code FROM core.supplier_agreements
               WHERE merchant_id = (SELECT merchant_id FROM core.suppliers WHERE supplier_id = %s)
                 AND (agreement_code = %s OR (supplier_id = %s AND valid_from = %s))""",
            [supplier_id, agreement_code, supplier_id, valid_from],
        ).fetchone()
        if clash is not None and clash[0] == agreement_code:
            raise InvalidRequest(f"agreement {agreement_code} already exists")
        if clash is not None:
            raise InvalidRequest(f"agreement {clash[0]} of this supplier already starts at {valid_from.isoformat()}")
        row = conn.execute(
            """INSERT INTO core.supplier_agreements (merchant_id, supplier_id, agreement_code, rebate_pct,
                   valid_from, valid_until, created_at)
               SELECT merchant_id, supplier_id, %s, %s, %s, %s, %s FROM core.suppliers WHERE supplier_id = %s
               RETURNING agreement_id, merchant_id""",
            [agreement_code, rebate_pct, valid_from, valid_until, at, supplier_id],
        ).fetchone()
        assert row is not None
        agreement_id, merchant_id = row
        known = {
            product_id
            for (product_id,) in conn.execute(
                "SELECT product_id FROM core.products WHERE merchant_id = %s AND product_id = ANY(%s)",
                [merchant_id, list(agreed_unit_costs)],
            )
        }
        unknown = sorted(set(agreed_unit_costs) - known)
        if unknown:
            raise NotFound(f"agreement {agreement_code}: products {unknown} do not belong to merchant {merchant_id}")
        for product_id, cost in agreed_unit_costs.items():
            conn.execute(
                """INSERT INTO core.supplier_agreement_prices (agreement_id, merchant_id, product_id, agreed_unit_cost)
                   VALUES (%s, %s, %s, %s)""",
                [agreement_id, merchant_id, product_id, cost],
            )
    return int(agreement_id)


def agreement_in_force(conn: psycopg.Connection, supplier_id: int, at: datetime) -> Agreement | None:
    """The supplier's newest agreement started by `at`, unless it had ended by then."""
    row = conn.execute(
        """SELECT agreement_id, agreement_code, supplier_id, rebate_pct, valid_from, valid_until
           FROM core.supplier_agreements WHERE supplier_id = %s AND valid_from <= %s
           ORDER BY valid_from DESC LIMIT 1""",
        [supplier_id, at],
    ).fetchone()
    if row is None or (row[5] is not None and row[5] <= at):
        return None
    costs = conn.execute(
        "SELECT product_id, agreed_unit_cost FROM core.supplier_agreement_prices WHERE agreement_id = %s", [row[0]]
    ).fetchall()
    return Agreement(*row, agreed_unit_costs=dict(costs))


def supplier_performance(
    conn: psycopg.Connection, supplier_id: int, start: datetime, end: datetime
) -> SupplierPerformance:
    """Deliveries received in [start, end): how many were on time, how many units passed inspection."""
    row = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE r.on_time),
                  coalesce(sum(l.delivered), 0), coalesce(sum(l.passed), 0)
           FROM core.purchase_receipts r
           JOIN core.purchase_orders po ON po.purchase_order_id = r.purchase_order_id
           CROSS JOIN LATERAL (
               SELECT sum(delivered_quantity) AS delivered, sum(passed_quantity) AS passed
               FROM core.purchase_receipt_lines WHERE receipt_id = r.receipt_id
           ) l
           WHERE po.supplier_id = %s AND r.received_at >= %s AND r.received_at < %s""",
        [supplier_id, start, end],
    ).fetchone()
    assert row is not None
    return SupplierPerformance(supplier_id, *(int(value) for value in row))


# Approval rules


def set_approval_rule(
    conn: psycopg.Connection, *, merchant_id: int, required_level: int, min_amount: Decimal, at: datetime
) -> None:
    """Orders of at least `min_amount` CNY need approval up to `required_level` (replaces that level's rule)."""
    if not 1 <= required_level <= MAX_APPROVAL_LEVEL:
        raise InvalidRequest(f"an approval level is 1 to {MAX_APPROVAL_LEVEL}, not {required_level}")
    if min_amount <= 0:
        raise InvalidRequest(f"an approval threshold is a positive amount, not {min_amount}")
    with conn.transaction():
        taken = conn.execute(
            """SELECT required_level FROM core.purchase_approval_rules
               WHERE merchant_id = %s AND min_amount = %s AND required_level <> %s AND retired_at IS NULL""",
            [merchant_id, min_amount, required_level],
        ).fetchone()
        if taken is not None:
            raise InvalidRequest(f"merchant {merchant_id}: level {taken[0]} already starts at {min_amount} CNY")
        conn.execute(
            """INSERT INTO core.purchase_approval_rules (merchant_id, required_level, min_amount,
                   created_at, updated_at)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (merchant_id, required_level)
               DO UPDATE SET min_amount = EXCLUDED.min_amount, updated_at = EXCLUDED.updated_at, retired_at = NULL""",
            [merchant_id, required_level, min_amount, at, at],
        )


def retire_approval_rule(conn: psycopg.Connection, *, merchant_id: int, required_level: int, at: datetime) -> None:
    """Orders created from now on no longer need this level for their amount; existing ones keep theirs."""
    with conn.transaction():
        retired = conn.execute(
            """UPDATE core.purchase_approval_rules SET retired_at = %s, updated_at = %s
               WHERE merchant_id = %s AND required_level = %s AND retired_at IS NULL""",
            [at, at, merchant_id, required_level],
        )
        if retired.rowcount == 0:
            raise NotFound(f"merchant {merchant_id} has no approval rule for level {required_level}")


def required_approval_level(conn: psycopg.Connection, merchant_id: int, amount: Decimal) -> int:
    """The approval level an order of `amount` CNY needs (0: none)."""
    row = conn.execute(
        """SELECT coalesce(max(required_level), 0) FROM core.purchase_approval_rules
           WHERE merchant_id = %s AND retired_at IS NULL AND min_amount <= %s""",
        [merchant_id, amount],
    ).fetchone()
    assert row is not None
    return int(row[0])


# Purchase orders


def create_purchase_order(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    supplier_id: int,
    warehouse_id: int,
    lines: list[PurchaseLineRequest],
    at: datetime,
    expected_at: datetime | None = None,
    draft: bool = False,
) -> int:
    """Create a purchase order: open (sent) at once, or pending_approval when the merchant's rules
    require approval for its amount; with `draft`, a draft to submit later. It is expected after
    the supplier's lead time unless told otherwise; lines without a unit cost take the
    agreement's price, else the SKU's unit cost."""
    _check_lines(lines)
    with conn.transaction():
        supplier = _supplier(conn, supplier_id, merchant_id=merchant_id)
        if supplier.is_blacklisted:
            raise SupplierBlacklisted(supplier.supplier_code, supplier.blacklist_reason or "")
        if expected_at is None:
            expected_at = at + timedelta(days=supplier.lead_time_days)
        elif expected_at < at:
            raise InvalidRequest(
                f"expected_at {expected_at.isoformat()} is before the order is placed ({at.isoformat()})"
            )
        agreement = agreement_in_force(conn, supplier_id, at)
        costs = _line_costs(conn, merchant_id, lines, agreement)
        amount = sum((line.quantity * costs[line.product_id] for line in lines), Decimal(0))
        if amount > MAX_ORDER_AMOUNT:
            raise InvalidRequest(
                f"the purchase order's amount of {amount} CNY is above the {MAX_ORDER_AMOUNT} CNY an order may reach"
            )
        level = 0 if draft else required_approval_level(conn, merchant_id, amount)
        row = conn.execute(
            """INSERT INTO core.purchase_orders (merchant_id, supplier_id, warehouse_id, status, ordered_at,
                   expected_at, updated_at, required_approval_level, agreement_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING purchase_order_id""",
            [
                merchant_id,
                supplier_id,
                warehouse_id,
                "draft" if draft else "pending_approval" if level else "open",
                at,
                expected_at,
                at,
                level,
                agreement.agreement_id if agreement else None,
            ],
        ).fetchone()
        assert row is not None
        purchase_order_id = int(row[0])
        for line in lines:
            conn.execute(
                """INSERT INTO core.purchase_order_lines (purchase_order_id, merchant_id, product_id,
                       quantity, unit_cost)
                   VALUES (%s, %s, %s, %s, %s)""",
                [purchase_order_id, merchant_id, line.product_id, line.quantity, costs[line.product_id]],
            )
    return purchase_order_id


def submit_purchase_order(conn: psycopg.Connection, purchase_order_id: int, at: datetime) -> str:
    """Send a draft: its approval level is fixed from its amount now, it is ordered now and expected
    after the supplier's lead time. Returns the order's status (pending_approval or open)."""
    with conn.transaction():
        po = _lock_purchase_order(conn, purchase_order_id)
        if po.status != "draft":
            raise InvalidTransition(f"purchase order {po.po_no} is {po.status}: only a draft can be submitted")
        supplier = _supplier(conn, po.supplier_id, merchant_id=po.merchant_id)
        if supplier.is_blacklisted:
            raise SupplierBlacklisted(supplier.supplier_code, supplier.blacklist_reason or "")
        amount = conn.execute(
            "SELECT coalesce(sum(quantity * unit_cost), 0) FROM core.purchase_order_lines WHERE purchase_order_id = %s",
            [purchase_order_id],
        ).fetchone()[0]
        level = required_approval_level(conn, po.merchant_id, amount)
        status = "pending_approval" if level else "open"
        conn.execute(
            """UPDATE core.purchase_orders
                  SET status = %s, required_approval_level = %s, ordered_at = %s, expected_at = %s, updated_at = %s
                WHERE purchase_order_id = %s""",
            [status, level, at, at + timedelta(days=supplier.lead_time_days), at, purchase_order_id],
        )
    return status


def _check_lines(lines: list[PurchaseLineRequest]) -> None:
    if not lines:
        raise InvalidTransition("a purchase order needs at least one line")
    product_ids = [line.product_id for line in lines]
    if len(set(product_ids)) != len(product_ids):
        raise InvalidRequest("a purchase order lists each product once")
    for line in lines:
        if line.quantity <= 0:
            raise InvalidRequest(f"product {line.product_id}: an ordered quantity is positive, not {line.quantity}")
        if line.unit_cost is not None and line.unit_cost < 0:
            raise InvalidRequest(f"product {line.product_id}: a unit cost cannot be negative")


def _line_costs(
    conn: psycopg.Connection, merchant_id: int, lines: list[PurchaseLineRequest], agreement: Agreement | None
) -> dict[int, Decimal]:
    costs = {line.product_id: line.unit_cost for line in lines if line.unit_cost is not None}
    agreed = agreement.agreed_unit_costs if agreement else {}
    costs |= {pid: agreed[pid] for pid in (line.product_id for line in lines) if pid not in costs and pid in agreed}
    unpriced = [line.product_id for line in lines if line.product_id not in costs]
    known = dict(
        conn.execute(
            "SELECT product_id, unit_cost FROM core.products WHERE merchant_id = %s AND product_id = ANY(%s)",
            [merchant_id, unpriced],
        ).fetchall()
        if unpriced
        else []
    )
    missing = set(unpriced) - known.keys()
    if missing:
        raise NotFound(f"products {sorted(missing)} do not belong to merchant {merchant_id}")
    return costs | known


def _lock_purchase_order(conn: psycopg.Connection, purchase_order_id: int) -> _PurchaseOrder:
    row = conn.execute(
        """SELECT purchase_order_id, merchant_id, po_no, supplier_id, warehouse_id, status, required_approval_level,
                  approved_level
           FROM core.purchase_orders WHERE purchase_order_id = %s FOR UPDATE""",
        [purchase_order_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"purchase order {purchase_order_id} does not exist")
    return _PurchaseOrder(*row)


def approve_purchase_order(
    conn: psycopg.Connection, purchase_order_id: int, approver: str, level: int, at: datetime, note: str | None = None
) -> str:
    """Sign the next approval level; the last one sends the order. Returns the order's status."""
    return _decide(conn, purchase_order_id, approver, level, at, "approved", note)


def reject_purchase_order(
    conn: psycopg.Connection, purchase_order_id: int, approver: str, level: int, at: datetime, reason: str
) -> str:
    """Refuse the order at the level awaiting a decision; it ends rejected. Returns the order's status."""
    if not reason.strip():
        raise InvalidRequest(f"rejecting purchase order {purchase_order_id} needs a reason")
    return _decide(conn, purchase_order_id, approver, level, at, "rejected", reason.strip())


def _decide(
    conn: psycopg.Connection,
    purchase_order_id: int,
    approver: str,
    level: int,
    at: datetime,
    decision: str,
    note: str | None,
) -> str:
    approver = approver.strip()
    if not approver:
        raise InvalidRequest(f"a decision on purchase order {purchase_order_id} names its approver")
    with conn.transaction():
        po = _lock_purchase_order(conn, purchase_order_id)
        if po.status != "pending_approval":
            raise InvalidTransition(f"purchase order {po.po_no} is {po.status}: it awaits no approval")
        if level != po.approved_level + 1:
            raise InvalidTransition(
                f"purchase order {po.po_no} awaits level {po.approved_level + 1} approval, not level {level}"
            )
        # One person under two spellings (wang, WANG) is one approver.
        signed = conn.execute(
            """SELECT level FROM core.purchase_order_approvals
               WHERE purchase_order_id = %s AND lower(approver) = lower(%s)""",
            [purchase_order_id, approver],
        ).fetchone()
        if signed is not None:
            raise InvalidTransition(
                f"{approver} already signed purchase order {po.po_no} at level {signed[0]}: "
                "each level needs a different approver"
            )
        if decision == "approved" and level == po.required_approval_level:
            supplier = _supplier(conn, po.supplier_id)
            if supplier.is_blacklisted:
                raise SupplierBlacklisted(supplier.supplier_code, supplier.blacklist_reason or "")
        conn.execute(
            """INSERT INTO core.purchase_order_approvals (purchase_order_id, merchant_id, level, decision, approver,
                   note, decided_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [purchase_order_id, po.merchant_id, level, decision, approver, note, at],
        )
        row = conn.execute(
            "SELECT status FROM core.purchase_orders WHERE purchase_order_id = %s", [purchase_order_id]
        ).fetchone()
    assert row is not None
    return str(row[0])


def cancel_purchase_order(conn: psycopg.Connection, purchase_order_id: int, at: datetime) -> None:
    """Cancel an order awaiting approval, sent, or partly received (what was received stays in stock)."""
    with conn.transaction():
        po = _lock_purchase_order(conn, purchase_order_id)
        if po.status not in CANCELLABLE_STATUSES:
            raise InvalidTransition(f"purchase order {po.po_no} is {po.status}; it can no longer be cancelled")
        conn.execute(
            "UPDATE core.purchase_orders SET status = 'cancelled', updated_at = %s WHERE purchase_order_id = %s",
            [at, purchase_order_id],
        )


def receive_purchase_order(
    conn: psycopg.Connection,
    purchase_order_id: int,
    at: datetime,
    lines: Mapping[int, int] | None = None,
    quality: Mapping[int, Inspection] | None = None,
) -> Receipt:
    """Record one delivery of an open order.

    `lines` maps product_id to the units delivered (default: everything outstanding); `quality`
    maps product_id to the units that failed inspection (default: all pass). Passed units enter
    stock as one new batch per SKU; the order becomes received once nothing is outstanding.
    """
    with conn.transaction():
        po = _lock_purchase_order(conn, purchase_order_id)
        if po.status not in RECEIVABLE_STATUSES:
            raise InvalidTransition(
                f"purchase order {po.po_no} is {po.status}; only an open or partly received order takes deliveries"
            )
        order_lines = _outstanding_lines(conn, purchase_order_id)
        _refuse_products_not_on_order(conn, po.po_no, order_lines, lines or {}, "on purchase order")
        deliveries = _deliveries(po.po_no, order_lines, lines)
        _refuse_products_not_on_order(
            conn, po.po_no, [line for line, _ in deliveries], quality or {}, "in this delivery of purchase order"
        )
        inspections = _inspections(po.po_no, deliveries, quality or {})
        receipt_id, on_time, days_late = _insert_receipt(conn, po, at)
        batch_ids = []
        for line, delivered in deliveries:
            inspection = inspections.get(line.product_id)
            rejected = inspection.rejected_quantity if inspection else 0
            batch_id = None
            if delivered > rejected:
                batch_id = receive_stock(
                    conn,
                    warehouse_id=po.warehouse_id,
                    product_id=line.product_id,
                    quantity=delivered - rejected,
                    at=at,
                    unit_cost=line.unit_cost,
                    purchase_order_id=purchase_order_id,
                )
                batch_ids.append(batch_id)
            conn.execute(
                """INSERT INTO core.purchase_receipt_lines (receipt_id, purchase_order_id, purchase_order_line_id,
                       product_id, merchant_id, delivered_quantity, passed_quantity, rejected_quantity,
                       rejection_reason, batch_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    receipt_id,
                    purchase_order_id,
                    line.purchase_order_line_id,
                    line.product_id,
                    po.merchant_id,
                    delivered,
                    delivered - rejected,
                    rejected,
                    inspection.reason.strip() if inspection and rejected else None,
                    batch_id,
                ],
            )
        status = _status_after_delivery(conn, purchase_order_id, at)
    delivered_total = sum(delivered for _, delivered in deliveries)
    rejected_total = sum(inspection.rejected_quantity for inspection in inspections.values())
    return Receipt(
        receipt_id=receipt_id,
        purchase_order_id=purchase_order_id,
        status=status,
        on_time=on_time,
        days_late=days_late,
        delivered_quantity=delivered_total,
        passed_quantity=delivered_total - rejected_total,
        rejected_quantity=rejected_total,
        batch_ids=tuple(batch_ids),
    )


def _outstanding_lines(conn: psycopg.Connection, purchase_order_id: int) -> list[_OrderLine]:
    rows = conn.execute(
        """SELECT l.purchase_order_line_id, l.product_id, p.sku_code, l.quantity - l.received_quantity, l.unit_cost
           FROM core.purchase_order_lines l JOIN core.products p USING (product_id)
           WHERE l.purchase_order_id = %s ORDER BY l.product_id""",
        [purchase_order_id],
    ).fetchall()
    return [_OrderLine(*row) for row in rows]


def _refuse_products_not_on_order(
    conn: psycopg.Connection, po_no: str, order_lines: list[_OrderLine], named: Mapping[int, object], where: str
) -> None:
    """Refuse products `named` that are not among `order_lines`, by the SKU codes the caller knows."""
    unknown = sorted(set(named) - {line.product_id for line in order_lines})
    if unknown:
        codes = [
            code
            for (code,) in conn.execute(
                "SELECT sku_code FROM core.products WHERE product_id = ANY(%s) ORDER BY sku_code", [unknown]
            )
        ]
        subject = f"SKU {codes[0]} is" if len(codes) == 1 else f"SKUs {', '.join(codes)} are"
        raise InvalidRequest(f"{subject} not {where} {po_no}")


def _deliveries(
    po_no: str, order_lines: list[_OrderLine], delivered: Mapping[int, int] | None
) -> list[tuple[_OrderLine, int]]:
    """Each order line delivered, with its units, in product order (everything outstanding by default)."""
    if delivered is None:
        return [(line, line.outstanding) for line in order_lines if line.outstanding > 0]
    if not delivered:
        raise InvalidRequest(f"a delivery of purchase order {po_no} brings at least one SKU")
    result = []
    for line in order_lines:
        quantity = delivered.get(line.product_id)
        if quantity is None:
            continue
        if quantity <= 0:
            raise InvalidRequest(f"purchase order {po_no}: a delivered quantity of SKU {line.sku_code} is positive")
        if quantity > line.outstanding:
            raise InvalidRequest(
                f"purchase order {po_no}: SKU {line.sku_code} has {line.outstanding} units outstanding, "
                f"a delivery of {quantity} is more"
            )
        result.append((line, quantity))
    return result


def _inspections(
    po_no: str, deliveries: list[tuple[_OrderLine, int]], quality: Mapping[int, Inspection]
) -> dict[int, Inspection]:
    delivered = {line.product_id: (line, quantity) for line, quantity in deliveries}
    for product_id, inspection in quality.items():
        line, quantity = delivered[product_id]
        if not 0 <= inspection.rejected_quantity <= quantity:
            raise InvalidRequest(
                f"purchase order {po_no}: SKU {line.sku_code} delivered {quantity} units, "
                f"so 0 to {quantity} can fail inspection, not {inspection.rejected_quantity}"
            )
        if inspection.rejected_quantity and not inspection.reason.strip():
            raise InvalidRequest(f"purchase order {po_no}: rejected units of SKU {line.sku_code} need a reason")
    return {pid: inspection for pid, inspection in quality.items() if inspection.rejected_quantity}


def _insert_receipt(conn: psycopg.Connection, po: _PurchaseOrder, at: datetime) -> tuple[int, bool, int]:
    """The delivery's row; the database copies the order's expected time and judges timeliness."""
    row = conn.execute(
        """INSERT INTO core.purchase_receipts (merchant_id, purchase_order_id, received_at, expected_at)
           SELECT merchant_id, purchase_order_id, %s, expected_at FROM core.purchase_orders
           WHERE purchase_order_id = %s
           RETURNING receipt_id, on_time, days_late""",
        [at, po.purchase_order_id],
    ).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1]), int(row[2])


def _status_after_delivery(conn: psycopg.Connection, purchase_order_id: int, at: datetime) -> str:
    row = conn.execute(
        """UPDATE core.purchase_orders
           SET status = CASE WHEN complete THEN 'received' ELSE 'partially_received' END,
               received_at = CASE WHEN complete THEN %s END,
               updated_at = %s
           FROM (SELECT bool_and(received_quantity = quantity) AS complete
                 FROM core.purchase_order_lines WHERE purchase_order_id = %s) lines
           WHERE purchase_order_id = %s
           RETURNING status""",
        [at, at, purchase_order_id, purchase_order_id],
    ).fetchone()
    assert row is not None
    return str(row[0])
