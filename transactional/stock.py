"""Stock by batch. Every change is one row of the append-only ledger core.stock_movements;
the database applies it to core.stock and refuses any movement that would break an invariant.

A stock row holds on-hand units, the units reserved for orders and the frozen units (库存冻结:
quality hold, dispute, recall); what can be sold, moved or frozen is on_hand - reserved - frozen.
Services lock the stock rows they read in one global order (product, batch, warehouse), so
concurrent operations on the same SKU queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from transactional.errors import InsufficientStock, NotFound, StockOperationRefused

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")
ISSUE_POLICIES = ("FEFO", "FIFO")


def business_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TIMEZONE).date()


@dataclass(frozen=True)
class Allocation:
    batch_id: int
    quantity: int


@dataclass(frozen=True)
class ExpiredWriteOff:
    """What an expiry write-off took from one batch; reserved units stay until their order ships
    or is cancelled."""

    warehouse_id: int
    batch_id: int
    written_off: int
    still_reserved: int


@dataclass(frozen=True)
class LockedStock:
    """A stock row locked FOR UPDATE, with the codes a user-facing message needs."""

    warehouse_id: int
    batch_id: int
    product_id: int
    merchant_id: int
    on_hand: int
    reserved: int
    frozen: int
    expiry_date: date | None
    received_at: datetime
    sku_code: str
    issue_policy: str
    lot_code: str
    warehouse_code: str

    @property
    def free(self) -> int:
        return self.on_hand - self.reserved - self.frozen

    def sellable_on(self, day: date) -> bool:
        """A batch expiring on or before the business date is never sold."""
        return self.expiry_date is None or self.expiry_date > day

    def describe(self) -> str:
        return f"SKU {self.sku_code} batch {self.lot_code} in warehouse {self.warehouse_code}"


def record_movement(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    warehouse_id: int,
    batch_id: int,
    product_id: int,
    movement_type: str,
    on_hand_delta: int,
    reserved_delta: int,
    at: datetime,
    frozen_delta: int = 0,
    order_id: int | None = None,
    purchase_order_id: int | None = None,
    reason: str | None = None,
    transfer_id: int | None = None,
    stocktake_id: int | None = None,
) -> None:
    conn.execute(
        """INSERT INTO core.stock_movements (merchant_id, warehouse_id, batch_id, product_id, movement_type,
               on_hand_delta, reserved_delta, frozen_delta, order_id, purchase_order_id, reason, transfer_id,
               stocktake_id, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            merchant_id,
            warehouse_id,
            batch_id,
            product_id,
            movement_type,
            on_hand_delta,
            reserved_delta,
            frozen_delta,
            order_id,
            purchase_order_id,
            reason,
            transfer_id,
            stocktake_id,
            at,
        ],
    )


def _record_for(
    conn: psycopg.Connection,
    row: LockedStock,
    movement_type: str,
    at: datetime,
    *,
    on_hand_delta: int = 0,
    frozen_delta: int = 0,
    reason: str | None = None,
    transfer_id: int | None = None,
    stocktake_id: int | None = None,
) -> None:
    """A movement on a locked row's warehouse and batch that leaves its reservations alone."""
    record_movement(
        conn,
        merchant_id=row.merchant_id,
        warehouse_id=row.warehouse_id,
        batch_id=row.batch_id,
        product_id=row.product_id,
        movement_type=movement_type,
        on_hand_delta=on_hand_delta,
        reserved_delta=0,
        frozen_delta=frozen_delta,
        at=at,
        reason=reason,
        transfer_id=transfer_id,
        stocktake_id=stocktake_id,
    )


def receive_stock(
    conn: psycopg.Connection,
    *,
    warehouse_id: int,
    product_id: int,
    quantity: int,
    at: datetime,
    unit_cost: Decimal | None = None,
    lot_code: str | None = None,
    expiry_date: date | None = None,
    purchase_order_id: int | None = None,
) -> int:
    """Put a new batch into a warehouse; returns its batch_id.

    The expiry date defaults to the receipt's business date plus the product's shelf life, the
    cost to the product's current unit cost.
    """
    with conn.transaction():
        product = conn.execute(
            "SELECT merchant_id, unit_cost, shelf_life_days, supplier_id FROM core.products WHERE product_id = %s",
            [product_id],
        ).fetchone()
        if product is None:
            raise NotFound(f"product {product_id} does not exist")
        merchant_id, product_cost, shelf_life_days, supplier_id = product
        if expiry_date is None and shelf_life_days is not None:
            expiry_date = business_date(at) + timedelta(days=shelf_life_days)
        row = conn.execute(
            """INSERT INTO core.batches (merchant_id, product_id, lot_code, received_at, expiry_date,
                   unit_cost, supplier_id, created_at)
               VALUES (%s, %s, COALESCE(%s, 'L' || to_char(%s AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
                       || '-' || nextval('core.lot_no_seq')),
                       %s, %s, %s, %s, %s)
               RETURNING batch_id""",
            [
                merchant_id,
                product_id,
                lot_code,
                at,
                at,
                expiry_date,
                unit_cost if unit_cost is not None else product_cost,
                supplier_id,
                at,
            ],
        ).fetchone()
        assert row is not None
        batch_id = int(row[0])
        record_movement(
            conn,
            merchant_id=merchant_id,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            product_id=product_id,
            movement_type="receipt",
            on_hand_delta=quantity,
            reserved_delta=0,
            at=at,
            purchase_order_id=purchase_order_id,
        )
    return batch_id


def set_issue_policy(conn: psycopg.Connection, *, product_id: int, policy: str, at: datetime) -> None:
    """Choose how a SKU's batches are issued: FEFO (earliest expiry first, the default) or FIFO
    (earliest received first, for goods whose age matters more than their expiry)."""
    if policy not in ISSUE_POLICIES:
        raise StockOperationRefused(f"issue policy must be one of {', '.join(ISSUE_POLICIES)}, not {policy!r}")
    with conn.transaction():
        updated = conn.execute(
            "UPDATE core.products SET issue_policy = %s, updated_at = %s WHERE product_id = %s",
            [policy, at, product_id],
        )
        if updated.rowcount == 0:
            raise NotFound(f"product {product_id} does not exist")


def _lock_stock(conn: psycopg.Connection, condition: str, params: list) -> list[LockedStock]:
    """Lock the stock rows matching `condition` in the one global order every service uses."""
    rows = conn.execute(
        f"""SELECT s.warehouse_id, s.batch_id, s.product_id, s.merchant_id, s.on_hand, s.reserved, s.frozen,
                   b.expiry_date, b.received_at, p.sku_code, p.issue_policy, b.lot_code, w.warehouse_code
            FROM core.stock s
            JOIN core.batches b ON b.batch_id = s.batch_id
            JOIN core.products p ON p.product_id = s.product_id
            JOIN core.warehouses w ON w.warehouse_id = s.warehouse_id
            WHERE {condition}
            ORDER BY s.product_id, s.batch_id, s.warehouse_id
            FOR UPDATE OF s""",
        params,
    ).fetchall()
    return [LockedStock(*row) for row in rows]


def _lock_one(conn: psycopg.Connection, warehouse_id: int, batch_id: int) -> LockedStock:
    rows = _lock_stock(conn, "s.warehouse_id = %s AND s.batch_id = %s", [warehouse_id, batch_id])
    if not rows:
        raise _no_stock_in(conn, warehouse_id, [batch_id])
    return rows[0]


def _no_stock_in(conn: psycopg.Connection, warehouse_id: int, batch_ids: list[int]) -> NotFound:
    """NotFound naming the batches (SKU and lot) and the warehouse by the codes users know."""
    batches = conn.execute(
        """SELECT 'SKU ' || p.sku_code || ' batch ' || b.lot_code
           FROM core.batches b JOIN core.products p USING (product_id)
           WHERE b.batch_id = ANY(%s) ORDER BY p.sku_code, b.lot_code""",
        [batch_ids],
    ).fetchall()
    warehouse = conn.execute("SELECT warehouse_code FROM core.warehouses WHERE warehouse_id = %s", [warehouse_id])
    warehouse_code = next((code for (code,) in warehouse), warehouse_id)
    verb = "has" if len(batches) == 1 else "have"
    return NotFound(f"{', '.join(name for (name,) in batches)} {verb} no stock in warehouse {warehouse_code}")


def _codes(conn: psycopg.Connection, product_id: int, warehouse_id: int) -> tuple[str, str, int]:
    """The SKU and warehouse codes for messages, and the merchant they share."""
    row = conn.execute(
        """SELECT p.sku_code, w.warehouse_code, p.merchant_id
           FROM core.products p JOIN core.warehouses w ON w.merchant_id = p.merchant_id
           WHERE p.product_id = %s AND w.warehouse_id = %s""",
        [product_id, warehouse_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} and warehouse {warehouse_id} do not exist for one merchant")
    return str(row[0]), str(row[1]), int(row[2])


def _issue_key(policy: str) -> Callable[[LockedStock], tuple]:
    if policy == "FIFO":
        return lambda row: (row.received_at, row.batch_id)
    return lambda row: (row.expiry_date is None, row.expiry_date or date.max, row.received_at, row.batch_id)


def _take(rows: list[LockedStock], quantity: int) -> list[tuple[LockedStock, int]]:
    """Take `quantity` from the rows' free units in the order given; the caller checked the total."""
    taken = []
    remaining = quantity
    for row in rows:
        if remaining == 0:
            break
        take = min(remaining, row.free)
        if take > 0:
            taken.append((row, take))
            remaining -= take
    return taken


def _in_issue_order(rows: list[LockedStock], day: date, policy: str) -> list[LockedStock]:
    """The rows with free units that are not expired on `day`, in the order they are issued."""
    sellable = [row for row in rows if row.free > 0 and row.sellable_on(day)]
    return sorted(sellable, key=_issue_key(policy))


def _require_positive(quantity: int, what: str) -> None:
    if quantity <= 0:
        raise StockOperationRefused(f"the quantity to {what} must be positive, not {quantity}")


def _require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise StockOperationRefused(f"a reason is required to {what}")
    return reason.strip()


def allocate_batches(
    conn: psycopg.Connection, *, warehouse_id: int, product_id: int, quantity: int, at: datetime
) -> list[Allocation]:
    """Choose and lock the batches that `quantity` units of a SKU are issued from.

    FEFO unless the SKU is set to FIFO; only free units (on hand, not reserved, not frozen) of
    batches that have not expired on the business date of `at` count. Call it inside the
    transaction that records the reservation: the rows stay locked until it ends, so concurrent
    orders for the same SKU queue. Raises InsufficientStock naming the SKU and warehouse.
    """
    _require_positive(quantity, "allocate")
    day = business_date(at)
    rows = _lock_stock(
        conn,
        """s.warehouse_id = %s AND s.product_id = %s AND s.on_hand > s.reserved + s.frozen
           AND (b.expiry_date IS NULL OR b.expiry_date > %s)""",
        [warehouse_id, product_id, day],
    )
    available = sum(row.free for row in rows)
    if available < quantity:
        sku_code, warehouse_code, _ = _codes(conn, product_id, warehouse_id)
        raise InsufficientStock(sku_code, warehouse_code, quantity, available)
    return [
        Allocation(row.batch_id, take)
        for row, take in _take(_in_issue_order(rows, day, rows[0].issue_policy), quantity)
    ]


def freeze_stock(
    conn: psycopg.Connection, *, warehouse_id: int, batch_id: int, quantity: int, reason: str, at: datetime
) -> None:
    """Hold free units of a batch back from sale (quality check, dispute, recall)."""
    _require_positive(quantity, "freeze")
    reason = _require_reason(reason, "freeze stock")
    with conn.transaction():
        row = _lock_one(conn, warehouse_id, batch_id)
        if quantity > row.free:
            raise InsufficientStock(row.sku_code, row.warehouse_code, quantity, row.free)
        _record_for(conn, row, "freeze", at, frozen_delta=quantity, reason=reason)


def unfreeze_stock(
    conn: psycopg.Connection, *, warehouse_id: int, batch_id: int, quantity: int, reason: str, at: datetime
) -> None:
    """Release frozen units of a batch back to sale."""
    _require_positive(quantity, "unfreeze")
    reason = _require_reason(reason, "unfreeze stock")
    with conn.transaction():
        row = _lock_one(conn, warehouse_id, batch_id)
        if quantity > row.frozen:
            raise StockOperationRefused(
                f"cannot unfreeze {quantity} units of {row.describe()}: only {row.frozen} are frozen"
            )
        _record_for(conn, row, "unfreeze", at, frozen_delta=-quantity, reason=reason)


def transfer_stock(
    conn: psycopg.Connection,
    *,
    from_warehouse_id: int,
    to_warehouse_id: int,
    product_id: int,
    quantity: int,
    at: datetime,
    note: str | None = None,
) -> int:
    """Move free, unexpired units of a SKU to another warehouse of the same merchant, earliest
    expiry first; each batch keeps its identity (lot, expiry, cost). Returns the transfer_id."""
    _require_positive(quantity, "transfer")
    with conn.transaction():
        sku_code, from_code, merchant_id = _codes(conn, product_id, from_warehouse_id)
        if from_warehouse_id == to_warehouse_id:
            raise StockOperationRefused(f"a transfer needs two different warehouses, got {from_code} twice")
        destination = conn.execute(
            """SELECT w.warehouse_code, w.merchant_id, m.merchant_code
               FROM core.warehouses w JOIN core.merchants m USING (merchant_id) WHERE w.warehouse_id = %s""",
            [to_warehouse_id],
        ).fetchone()
        if destination is None:
            raise NotFound(f"warehouse {to_warehouse_id} does not exist")
        to_code, destination_merchant, destination_merchant_code = destination
        if destination_merchant != merchant_id:
            raise StockOperationRefused(
                f"warehouse {to_code} belongs to merchant {destination_merchant_code}: "
                f"stock moves only between one merchant's warehouses"
            )
        # The destination's rows are locked in the same statement, in the global order, so two
        # opposite transfers queue instead of each holding one side.
        both_sides = _lock_stock(
            conn, "s.product_id = %s AND s.warehouse_id = ANY(%s)", [product_id, [from_warehouse_id, to_warehouse_id]]
        )
        source = [row for row in both_sides if row.warehouse_id == from_warehouse_id]
        rows = _in_issue_order(source, business_date(at), "FEFO")
        available = sum(row.free for row in rows)
        if available < quantity:
            raise InsufficientStock(sku_code, from_code, quantity, available)
        transfer_row = conn.execute(
            """INSERT INTO core.stock_transfers (merchant_id, product_id, from_warehouse_id, to_warehouse_id,
                   quantity, note, transferred_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING transfer_id""",
            [merchant_id, product_id, from_warehouse_id, to_warehouse_id, quantity, note, at],
        ).fetchone()
        assert transfer_row is not None
        transfer_id = int(transfer_row[0])
        for row, take in _take(rows, quantity):
            _record_for(conn, row, "transfer_out", at, on_hand_delta=-take, transfer_id=transfer_id, reason=note)
            record_movement(
                conn,
                merchant_id=merchant_id,
                warehouse_id=to_warehouse_id,
                batch_id=row.batch_id,
                product_id=product_id,
                movement_type="transfer_in",
                on_hand_delta=take,
                reserved_delta=0,
                at=at,
                transfer_id=transfer_id,
                reason=note,
            )
    return transfer_id


def record_stocktake(
    conn: psycopg.Connection,
    *,
    warehouse_id: int,
    counts: Mapping[int, int],
    at: datetime,
    note: str | None = None,
) -> int:
    """Record a count (盘点) of some batches in a warehouse, batch_id -> counted units, and bring
    on-hand to the count with one 'stocktake' movement per differing batch. Returns the stocktake_id.

    A count below a batch's reserved plus frozen units is refused: those orders must be cancelled
    or shipped, or the units unfrozen, before the shortfall can be booked.
    """
    if not counts:
        raise StockOperationRefused("a stocktake needs at least one counted batch")
    negative = sorted(batch_id for batch_id, counted in counts.items() if counted < 0)
    if negative:
        raise StockOperationRefused(f"counted quantities cannot be negative (batches {negative})")
    with conn.transaction():
        rows = _lock_stock(conn, "s.warehouse_id = %s AND s.batch_id = ANY(%s)", [warehouse_id, list(counts)])
        missing = sorted(set(counts) - {row.batch_id for row in rows})
        if missing:
            raise _no_stock_in(conn, warehouse_id, missing)
        for row in rows:
            if counts[row.batch_id] < row.reserved + row.frozen:
                raise StockOperationRefused(
                    f"count of {counts[row.batch_id]} for {row.describe()} is below its {row.reserved} reserved "
                    f"and {row.frozen} frozen units: cancel or ship those orders, or unfreeze, first"
                )
        stocktake_row = conn.execute(
            """INSERT INTO core.stocktakes (merchant_id, warehouse_id, counted_at, note)
               SELECT merchant_id, warehouse_id, %s, %s FROM core.warehouses WHERE warehouse_id = %s
               RETURNING stocktake_id""",
            [at, note, warehouse_id],
        ).fetchone()
        assert stocktake_row is not None
        stocktake_id = int(stocktake_row[0])
        for row in rows:
            counted = counts[row.batch_id]
            conn.execute(
                """INSERT INTO core.stocktake_lines (stocktake_id, batch_id, warehouse_id, merchant_id,
                       system_quantity, counted_quantity)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                [stocktake_id, row.batch_id, warehouse_id, row.merchant_id, row.on_hand, counted],
            )
            if counted != row.on_hand:
                _record_for(conn, row, "stocktake", at, on_hand_delta=counted - row.on_hand, stocktake_id=stocktake_id)
    return stocktake_id


def write_off_damage(
    conn: psycopg.Connection,
    *,
    warehouse_id: int,
    batch_id: int,
    quantity: int,
    reason: str,
    at: datetime,
    from_frozen: bool = False,
) -> None:
    """Write off damaged units of a batch (报损): free units, or with `from_frozen` units that were
    frozen pending a decision."""
    _require_positive(quantity, "write off")
    reason = _require_reason(reason, "write off stock")
    with conn.transaction():
        row = _lock_one(conn, warehouse_id, batch_id)
        if from_frozen and quantity > row.frozen:
            raise StockOperationRefused(
                f"cannot write off {quantity} frozen units of {row.describe()}: only {row.frozen} are frozen"
            )
        if not from_frozen and quantity > row.free:
            raise InsufficientStock(row.sku_code, row.warehouse_code, quantity, row.free)
        _record_for(
            conn,
            row,
            "write_off",
            at,
            on_hand_delta=-quantity,
            frozen_delta=-quantity if from_frozen else 0,
            reason=reason,
        )


def write_off_expired(
    conn: psycopg.Connection, *, merchant_id: int, at: datetime, warehouse_id: int | None = None
) -> list[ExpiredWriteOff]:
    """Write off every batch of a merchant (or of one warehouse) whose expiry date is on or before
    the business date of `at`: free and frozen units go; reserved units stay with their orders."""
    condition = "s.merchant_id = %s AND b.expiry_date <= %s AND s.on_hand > s.reserved"
    params: list = [merchant_id, business_date(at)]
    if warehouse_id is not None:
        condition += " AND s.warehouse_id = %s"
        params.append(warehouse_id)
    written_off = []
    with conn.transaction():
        for row in _lock_stock(conn, condition, params):
            quantity = row.on_hand - row.reserved
            _record_for(
                conn,
                row,
                "expire",
                at,
                on_hand_delta=-quantity,
                frozen_delta=-row.frozen,
                reason=f"expired on {row.expiry_date.isoformat() if row.expiry_date else ''}",
            )
            written_off.append(ExpiredWriteOff(row.warehouse_id, row.batch_id, quantity, row.reserved))
    return written_off


def return_to_stock(
    conn: psycopg.Connection,
    *,
    warehouse_id: int,
    batch_id: int,
    quantity: int,
    order_id: int,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Put units an order shipped from a batch back on hand (to any warehouse of the merchant);
    never more than the order shipped from that batch, counting earlier returns."""
    _require_positive(quantity, "return")
    with conn.transaction():
        order = conn.execute(
            "SELECT merchant_id, order_no FROM core.orders WHERE order_id = %s FOR NO KEY UPDATE", [order_id]
        ).fetchone()
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        merchant_id, order_no = order
        warehouse = conn.execute(
            "SELECT 1 FROM core.warehouses WHERE warehouse_id = %s AND merchant_id = %s", [warehouse_id, merchant_id]
        ).fetchone()
        if warehouse is None:
            raise NotFound(f"warehouse {warehouse_id} does not belong to the merchant of order {order_no}")
        batch = conn.execute(
            """SELECT b.product_id, b.lot_code, p.sku_code FROM core.batches b JOIN core.products p USING (product_id)
               WHERE b.batch_id = %s AND b.merchant_id = %s""",
            [batch_id, merchant_id],
        ).fetchone()
        if batch is None:
            raise NotFound(f"batch {batch_id} does not belong to the merchant of order {order_no}")
        product_id, lot_code, sku_code = batch
        shipped, returned = conn.execute(
            """SELECT coalesce(sum(-on_hand_delta) FILTER (WHERE movement_type = 'ship'), 0),
                      coalesce(sum(on_hand_delta) FILTER (WHERE movement_type = 'return'), 0)
               FROM core.stock_movements WHERE order_id = %s AND batch_id = %s""",
            [order_id, batch_id],
        ).fetchone() or (0, 0)
        if returned + quantity > shipped:
            raise StockOperationRefused(
                f"order {order_no} shipped {shipped} units of SKU {sku_code} batch {lot_code} and {returned} "
                f"are back already: cannot return {quantity} more"
            )
        record_movement(
            conn,
            merchant_id=merchant_id,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            product_id=product_id,
            movement_type="return",
            on_hand_delta=quantity,
            reserved_delta=0,
            at=at,
            order_id=order_id,
            reason=reason,
        )
