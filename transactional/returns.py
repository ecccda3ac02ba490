"""After-sales returns: requested → approved | rejected; approved → received → refunded.

Rules (windows configurable per call, defaults from DOMAIN):
- A return opens once the order is delivered. A no-reason return (七天无理由) may be requested
  up to the 7th calendar day after the delivery's business date (Asia/Shanghai), and never for a
  SKU whose category (or an ancestor) has `no_reason_returns` off: food (食品) and farm inputs
  (农资) by default. A quality-defect return is accepted in every category, food and farm
  inputs included, up to the 15th day: a defect is the seller's fault, which the no-reason
  exclusion does not cover.
- A line is never returned beyond what was shipped less what earlier returns took (the database
  counts it in order_lines.returned_quantity; a rejected return gives its units back).
- Received no-reason goods go back on hand in the batches they were shipped from, through
  `stock.return_to_stock`; defective goods are not sellable and are not restocked.
- Refund: the net line amount (after every discount) pro rata to the units, rounded half up to
  the cent cumulatively per line: after each refund a line's refunds add up to
  round(net × units refunded so far ÷ units), so a line returned in full is refunded exactly its
  net amount and never a cent more, whatever the split.
- Money: when the order has been settled (a sale in the journal), the refund is posted there in
  the same transaction, line by line, referenced `<return_no>/<line_no>`, so the merchant's
  payable and the commission given back follow the return. An order not yet settled has
  nothing in the journal to reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg

from transactional import stock
from transactional.errors import NotFound, ReturnRefused
from transactional.money.sales import RefundRequest, post_refunds
from transactional.promotions import to_cents
from transactional.stock import business_date

NO_REASON_RETURN_DAYS = 7
QUALITY_DEFECT_RETURN_DAYS = 15
RETURN_REASONS = ("no_reason", "quality_defect")


@dataclass(frozen=True)
class ReturnLineRequest:
    order_line_id: int
    quantity: int


@dataclass(frozen=True)
class _LockedReturn:
    return_id: int
    merchant_id: int
    return_no: str
    order_id: int
    reason: str
    status: str
    last_step_at: datetime


@dataclass(frozen=True)
class _OrderLine:
    order_line_id: int
    line_no: int
    sku_code: str
    quantity: int
    returned_quantity: int
    no_reason_returns: bool


def last_return_day(delivered_at: datetime, days: int) -> date:
    """The last business date a return may be requested on."""
    return business_date(delivered_at) + timedelta(days=days)


def _require_request(lines: list[ReturnLineRequest], reason: str) -> None:
    if reason not in RETURN_REASONS:
        raise ReturnRefused(f"a return's reason is one of {', '.join(RETURN_REASONS)}, not {reason!r}")
    if not lines:
        raise ReturnRefused("a return needs at least one line")
    if len({line.order_line_id for line in lines}) != len(lines):
        raise ReturnRefused("a return names each order line once")
    for line in lines:
        if line.quantity <= 0:
            raise ReturnRefused(f"a returned quantity must be positive, not {line.quantity}")


def _lock_order_lines(conn: psycopg.Connection, order_id: int) -> dict[int, _OrderLine]:
    """The order's lines, locked in line order: returns of one order are judged one at a time."""
    rows = conn.execute(
        """SELECT l.order_line_id, l.line_no, p.sku_code, l.quantity, l.returned_quantity, r.no_reason_returns
           FROM core.order_lines l
           JOIN core.products p ON p.product_id = l.product_id
           JOIN core.category_rules r ON r.category_id = p.category_id
           WHERE l.order_id = %s ORDER BY l.line_no
           FOR UPDATE OF l""",
        [order_id],
    ).fetchall()
    return {row[0]: _OrderLine(*row) for row in rows}


def request_return(
    conn: psycopg.Connection,
    *,
    order_id: int,
    lines: list[ReturnLineRequest],
    reason: str,
    at: datetime,
    note: str | None = None,
    no_reason_days: int = NO_REASON_RETURN_DAYS,
    quality_defect_days: int = QUALITY_DEFECT_RETURN_DAYS,
) -> int:
    """Open a return for delivered goods; returns its return_id. Raises ReturnRefused naming the rule."""
    _require_request(lines, reason)
    with conn.transaction():
        order = conn.execute(
            "SELECT merchant_id, order_no, delivered_at FROM core.orders WHERE order_id = %s", [order_id]
        ).fetchone()
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        merchant_id, order_no, delivered_at = order
        if delivered_at is None:
            raise ReturnRefused(f"order {order_no} has not been delivered; returns open on delivery")
        days = no_reason_days if reason == "no_reason" else quality_defect_days
        last_day = last_return_day(delivered_at, days)
        if business_date(at) > last_day:
            raise ReturnRefused(
                f"order {order_no} was delivered on {business_date(delivered_at)}: its {reason.replace('_', '-')} "
                f"returns closed after {last_day}"
            )
        order_lines = _lock_order_lines(conn, order_id)
        for line in lines:
            _require_returnable(order_no, order_lines.get(line.order_line_id), line, reason)
        row = conn.execute(
            """INSERT INTO core.returns (merchant_id, order_id, reason, note, status, requested_at, updated_at)
               VALUES (%s, %s, %s, %s, 'requested', %s, %s) RETURNING return_id""",
            [merchant_id, order_id, reason, note, at, at],
        ).fetchone()
        assert row is not None
        return_id = int(row[0])
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO core.return_lines (return_id, merchant_id, order_line_id, quantity)
                   VALUES (%s, %s, %s, %s)""",
                [[return_id, merchant_id, line.order_line_id, line.quantity] for line in lines],
            )
    return return_id


def _require_returnable(order_no: str, line: _OrderLine | None, request: ReturnLineRequest, reason: str) -> None:
    if line is None:
        raise ReturnRefused(f"order line {request.order_line_id} is not on order {order_no}")
    if reason == "no_reason" and not line.no_reason_returns:
        raise ReturnRefused(
            f"SKU {line.sku_code} (order {order_no} line {line.line_no}) is in a category without no-reason returns; "
            "a quality-defect return is possible"
        )
    returnable = line.quantity - line.returned_quantity
    if request.quantity > returnable:
        raise ReturnRefused(
            f"order {order_no} line {line.line_no} (SKU {line.sku_code}): {returnable} unit(s) can still be returned, "
            f"{request.quantity} asked"
        )


def _lock_return(conn: psycopg.Connection, return_id: int) -> _LockedReturn:
    row = conn.execute(
        """SELECT return_id, merchant_id, return_no, order_id, reason, status,
                  GREATEST(requested_at, approved_at, rejected_at, received_at, refunded_at)
           FROM core.returns WHERE return_id = %s FOR UPDATE""",
        [return_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"return {return_id} does not exist")
    return _LockedReturn(*row)


_RETURN_STEPS = {
    "approved": ("requested", "approved_at"),
    "rejected": ("requested", "rejected_at"),
    "received": ("approved", "received_at"),
    "refunded": ("received", "refunded_at"),
}


def _require_step(locked: _LockedReturn, to_status: str, at: datetime) -> None:
    from_status = _RETURN_STEPS[to_status][0]
    if locked.status != from_status:
        raise ReturnRefused(
            f"return {locked.return_no} is {locked.status}; it can become {to_status} only when {from_status}"
        )
    if at < locked.last_step_at:
        raise ReturnRefused(
            f"return {locked.return_no} cannot be {to_status} at {at.isoformat()}, before its last step at "
            f"{locked.last_step_at.isoformat()}"
        )


def _move_return(
    conn: psycopg.Connection,
    locked: _LockedReturn,
    to_status: str,
    at: datetime,
    refund_amount: Decimal | None = None,
) -> None:
    _require_step(locked, to_status, at)
    conn.execute(
        f"""UPDATE core.returns SET status = %s, {_RETURN_STEPS[to_status][1]} = %s, refund_amount = %s, updated_at = %s
            WHERE return_id = %s""",
        [to_status, at, refund_amount, at, locked.return_id],
    )


def approve_return(conn: psycopg.Connection, return_id: int, at: datetime) -> None:
    with conn.transaction():
        _move_return(conn, _lock_return(conn, return_id), "approved", at)


def reject_return(conn: psycopg.Connection, return_id: int, at: datetime) -> None:
    """Refuse a requested return; its units can be asked for again by a later return."""
    with conn.transaction():
        _move_return(conn, _lock_return(conn, return_id), "rejected", at)


def receive_return(conn: psycopg.Connection, return_id: int, at: datetime) -> None:
    """The goods are back: no-reason goods go back on hand in the batches they left from."""
    with conn.transaction():
        locked = _lock_return(conn, return_id)
        _move_return(conn, locked, "received", at)
        if locked.reason == "no_reason":
            _restock(conn, locked, at)


def _restock(conn: psycopg.Connection, locked: _LockedReturn, at: datetime) -> None:
    """Each returned unit goes to a batch the order shipped that SKU from and that has not taken
    all of its units back yet (batches in id order)."""
    for product_id, quantity in conn.execute(
        """SELECT l.product_id, sum(rl.quantity) FROM core.return_lines rl
           JOIN core.order_lines l ON l.order_line_id = rl.order_line_id
           WHERE rl.return_id = %s GROUP BY l.product_id ORDER BY l.product_id""",
        [locked.return_id],
    ).fetchall():
        still_to_place = int(quantity)
        for warehouse_id, batch_id, room in conn.execute(
            """SELECT shipped.warehouse_id, shipped.batch_id, shipped.units - COALESCE(back.units, 0)
               FROM (SELECT warehouse_id, batch_id, sum(-on_hand_delta) AS units FROM core.stock_movements
                     WHERE order_id = %s AND product_id = %s AND movement_type = 'ship'
                     GROUP BY warehouse_id, batch_id) shipped
               LEFT JOIN (SELECT batch_id, sum(on_hand_delta) AS units FROM core.stock_movements
                          WHERE order_id = %s AND product_id = %s AND movement_type = 'return'
                          GROUP BY batch_id) back ON back.batch_id = shipped.batch_id
               ORDER BY shipped.batch_id""",
            [locked.order_id, product_id, locked.order_id, product_id],
        ).fetchall():
            take = min(still_to_place, int(room))
            if take > 0:
                stock.return_to_stock(
                    conn,
                    warehouse_id=warehouse_id,
                    batch_id=batch_id,
                    quantity=take,
                    order_id=locked.order_id,
                    at=at,
                    reason=f"return {locked.return_no}",
                )
                still_to_place -= take


def refund_return(conn: psycopg.Connection, return_id: int, at: datetime) -> Decimal:
    """Refund received goods (rule in the module docstring); returns the amount refunded."""
    with conn.transaction():
        locked = _lock_return(conn, return_id)
        _require_step(locked, "refunded", at)
        _lock_order_lines(conn, locked.order_id)
        rows = conn.execute(
            """SELECT rl.return_line_id, rl.quantity, l.quantity, l.line_amount, l.refunded_amount,
                      (SELECT COALESCE(sum(done.quantity), 0) FROM core.return_lines done
                       WHERE done.order_line_id = l.order_line_id AND done.refund_amount IS NOT NULL),
                      l.order_line_id, l.line_no
               FROM core.return_lines rl JOIN core.order_lines l ON l.order_line_id = rl.order_line_id
               WHERE rl.return_id = %s ORDER BY l.line_no""",
            [return_id],
        ).fetchall()
        refunds = [
            (return_line_id, line_refund(net, units, refunded_units + returned, refunded_amount))
            for return_line_id, returned, units, net, refunded_amount, refunded_units, _, _ in rows
        ]
        with conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE core.return_lines SET refund_amount = %s WHERE return_line_id = %s",
                [[amount, return_line_id] for return_line_id, amount in refunds],
            )
        total = sum((amount for _, amount in refunds), Decimal(0))
        _move_return(conn, locked, "refunded", at, refund_amount=total)
        if conn.execute("SELECT 1 FROM core.sales WHERE order_id = %s", [locked.order_id]).fetchone():
            post_refunds(
                conn,
                [
                    RefundRequest(
                        locked.order_id,
                        amount,
                        at,
                        order_line_id=row[6],
                        reference=f"{locked.return_no}/{row[7]}",
                        reason=f"return {locked.return_no}",
                    )
                    for (_, amount), row in zip(refunds, rows, strict=True)
                    if amount > 0
                ],
            )
    return total


def line_refund(net_amount: Decimal, units: int, units_refunded_after: int, refunded_before: Decimal) -> Decimal:
    """What this refund adds so the line's refunds total round(net × units refunded ÷ units)."""
    return to_cents(net_amount * units_refunded_after / units) - refunded_before
