"""What the API shows of orders, stock and purchase orders, by the codes users know."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
from psycopg.rows import dict_row

from transactional.api.schemas import (
    AllocationOut,
    BatchLevel,
    BatchOut,
    DiscountOut,
    OrderLineOut,
    OrderOut,
    PurchaseLineOut,
    PurchaseOrderOut,
    ReturnLineOut,
    ReturnOut,
    StockLevel,
)
from transactional.errors import NotFound
from transactional.stock import business_date


def _rows(conn: psycopg.Connection, query: str, params: list) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query, params).fetchall()


def order(conn: psycopg.Connection, order_id: int) -> OrderOut:
    header = _rows(
        conn,
        """SELECT o.order_no, o.status, o.source, o.external_order_code, c.customer_code, w.warehouse_code,
                  o.payment_method, o.credit_term_days, o.total_amount, o.ordered_at, o.reviewed_at,
                  o.confirmed_at, o.picked_at, o.shipped_at, o.in_transit_at, o.delivered_at, o.completed_at,
                  o.cancelled_at
           FROM core.orders o
           JOIN core.customers c USING (customer_id)
           LEFT JOIN core.warehouses w USING (warehouse_id)
           WHERE o.order_id = %s""",
        [order_id],
    )
    if not header:
        raise NotFound(f"order {order_id} does not exist")
    lines = _rows(
        conn,
        """SELECT l.order_line_id, l.line_no, p.sku_code, l.quantity, l.unit_price, l.discount_amount, l.line_amount
           FROM core.order_lines l JOIN core.products p USING (product_id)
           WHERE l.order_id = %s ORDER BY l.line_no""",
        [order_id],
    )
    allocations = _rows(
        conn,
        """SELECT a.order_line_id, b.lot_code, b.expiry_date, a.quantity
           FROM core.order_allocations a
           JOIN core.order_lines l USING (order_line_id)
           JOIN core.batches b USING (batch_id)
           WHERE l.order_id = %s ORDER BY b.expiry_date NULLS LAST, b.lot_code""",
        [order_id],
    )
    line_models = [
        OrderLineOut(
            **{key: value for key, value in line.items() if key != "order_line_id"},
            allocations=[AllocationOut(**a) for a in allocations if a["order_line_id"] == line["order_line_id"]],
        )
        for line in lines
    ]
    discounts = _rows(
        conn,
        """SELECT d.source, coalesce(pr.promotion_code, cp.coupon_code) AS code, p.sku_code, d.amount
           FROM core.order_discounts d
           LEFT JOIN core.promotions pr ON pr.promotion_id = d.promotion_id
           LEFT JOIN core.coupons cp ON cp.coupon_id = d.coupon_id
           LEFT JOIN core.order_lines l ON l.order_line_id = d.order_line_id
           LEFT JOIN core.products p ON p.product_id = l.product_id
           WHERE d.order_id = %s ORDER BY d.order_discount_id""",
        [order_id],
    )
    return OrderOut(**header[0], lines=line_models, discounts=[DiscountOut(**d) for d in discounts])


# A batch can be sold up to the day before its expiry date (transactional.stock.allocate_batches);
# from that day on its units wait for the expiry write-off and no order can take them.
_SELLABLE = "(b.expiry_date IS NULL OR b.expiry_date > %s)"


def _today() -> date:
    return business_date(datetime.now(UTC))


def stock_levels(
    conn: psycopg.Connection, merchant_id: int, sku_code: str | None, warehouse_code: str | None
) -> list[StockLevel]:
    today = _today()
    rows = _rows(
        conn,
        f"""SELECT p.sku_code, w.warehouse_code,
                  sum(s.on_hand)::int AS on_hand, sum(s.reserved)::int AS reserved, sum(s.frozen)::int AS frozen,
                  COALESCE(sum(s.on_hand - s.reserved - s.frozen) FILTER (WHERE {_SELLABLE}), 0)::int AS available,
                  COALESCE(sum(s.on_hand - s.reserved) FILTER (WHERE NOT {_SELLABLE}), 0)::int AS expired,
                  count(*) FILTER (WHERE s.on_hand > 0)::int AS batches,
                  min(b.expiry_date) FILTER (WHERE s.on_hand > 0) AS earliest_expiry
           FROM core.stock s
           JOIN core.products p USING (product_id)
           JOIN core.warehouses w USING (warehouse_id)
           JOIN core.batches b USING (batch_id)
           WHERE s.merchant_id = %s
             AND (%s::text IS NULL OR p.sku_code = %s)
             AND (%s::text IS NULL OR w.warehouse_code = %s)
           GROUP BY p.sku_code, w.warehouse_code
           ORDER BY p.sku_code, w.warehouse_code""",
        [today, today, merchant_id, sku_code, sku_code, warehouse_code, warehouse_code],
    )
    return [StockLevel(**row) for row in rows]


def batch_levels(conn: psycopg.Connection, merchant_id: int, condition: str, params: list) -> list[BatchLevel]:
    """Stock rows of one merchant, per batch; `condition` is fixed SQL over s (stock), p, w and b."""
    rows = _rows(
        conn,
        f"""SELECT p.sku_code, w.warehouse_code, b.lot_code, b.expiry_date, s.on_hand, s.reserved, s.frozen,
                   CASE WHEN {_SELLABLE} THEN s.on_hand - s.reserved - s.frozen ELSE 0 END AS available
            FROM core.stock s
            JOIN core.batches b ON b.batch_id = s.batch_id
            JOIN core.products p ON p.product_id = s.product_id
            JOIN core.warehouses w ON w.warehouse_id = s.warehouse_id
            WHERE s.merchant_id = %s AND {condition}
            ORDER BY p.sku_code, w.warehouse_code, b.expiry_date NULLS LAST, b.lot_code""",
        [_today(), merchant_id, *params],
    )
    return [BatchLevel(**row) for row in rows]


def received_batch(conn: psycopg.Connection, batch_id: int) -> BatchOut:
    """A batch as its receipt brought it in (warehouse and quantity of the receipt movement)."""
    rows = _rows(
        conn,
        """SELECT b.lot_code, p.sku_code, w.warehouse_code, m.on_hand_delta AS quantity, b.unit_cost,
                  b.received_at, b.expiry_date
           FROM core.batches b
           JOIN core.products p ON p.product_id = b.product_id
           JOIN core.stock_movements m ON m.batch_id = b.batch_id AND m.movement_type = 'receipt'
           JOIN core.warehouses w ON w.warehouse_id = m.warehouse_id
           WHERE b.batch_id = %s""",
        [batch_id],
    )
    if not rows:
        raise NotFound(f"batch {batch_id} has no receipt")
    return BatchOut(**rows[0])


# The purchase orders a read returns, chosen by one of the fixed filters below (never user text).
_ONE_PURCHASE_ORDER = "po.purchase_order_id = %s"
_MERCHANTS_PURCHASE_ORDERS = "po.merchant_id = %s AND (%s::text IS NULL OR po.status = %s)"


def _purchase_orders(conn: psycopg.Connection, which: str, params: list) -> list[PurchaseOrderOut]:
    """The orders `which` selects, oldest first, with their lines: two queries however many orders
    there are; the lines are read for the orders the first query found."""
    headers = _rows(
        conn,
        f"""SELECT po.purchase_order_id, po.po_no, po.status, po.required_approval_level, po.approved_level,
                   s.supplier_code, w.warehouse_code, po.ordered_at, po.expected_at, po.received_at
            FROM core.purchase_orders po
            JOIN core.suppliers s USING (supplier_id)
            JOIN core.warehouses w USING (warehouse_id)
            WHERE {which}
            ORDER BY po.purchase_order_id""",
        params,
    )
    lines: dict[int, list[PurchaseLineOut]] = {header.pop("purchase_order_id"): [] for header in headers}
    for line in _rows(
        conn,
        """SELECT l.purchase_order_id, p.sku_code, l.quantity, l.unit_cost, l.received_quantity
           FROM core.purchase_order_lines l JOIN core.products p USING (product_id)
           WHERE l.purchase_order_id = ANY(%s)
           ORDER BY l.purchase_order_id, p.sku_code""",
        [list(lines)],
    ):
        lines[line.pop("purchase_order_id")].append(PurchaseLineOut(**line))
    return [
        PurchaseOrderOut(**header, lines=order_lines)
        for header, order_lines in zip(headers, lines.values(), strict=True)
    ]


def purchase_order(conn: psycopg.Connection, purchase_order_id: int) -> PurchaseOrderOut:
    found = _purchase_orders(conn, _ONE_PURCHASE_ORDER, [purchase_order_id])
    if not found:
        raise NotFound(f"purchase order {purchase_order_id} does not exist")
    return found[0]


def purchase_orders(conn: psycopg.Connection, merchant_id: int, status: str | None) -> list[PurchaseOrderOut]:
    """The merchant's purchase orders, of one status if given, oldest first."""
    return _purchase_orders(conn, _MERCHANTS_PURCHASE_ORDERS, [merchant_id, status, status])


def order_return(conn: psycopg.Connection, return_id: int) -> ReturnOut:
    header = _rows(
        conn,
        """SELECT r.return_no, o.order_no, r.reason, r.note, r.status, r.requested_at, r.approved_at, r.rejected_at,
                  r.received_at, r.refunded_at, r.refund_amount
           FROM core.returns r JOIN core.orders o ON o.order_id = r.order_id
           WHERE r.return_id = %s""",
        [return_id],
    )
    if not header:
        raise NotFound(f"return {return_id} does not exist")
    lines = _rows(
        conn,
        """SELECT l.line_no, p.sku_code, rl.quantity, rl.refund_amount
           FROM core.return_lines rl
           JOIN core.order_lines l ON l.order_line_id = rl.order_line_id
           JOIN core.products p ON p.product_id = l.product_id
           WHERE rl.return_id = %s ORDER BY l.line_no""",
        [return_id],
    )
    return ReturnOut(**header[0], lines=[ReturnLineOut(**line) for line in lines])
