"""/stock: levels per SKU and warehouse or per batch; receipts, freezes, transfers, stocktakes and
write-offs. Batches are named by SKU and lot code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from transactional import stock
from transactional.api import lookups, reads
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    BatchLevel,
    BatchOut,
    ExpiredBatchOut,
    ExpiryWriteOff,
    ExpiryWriteOffOut,
    FreezeStock,
    StockLevel,
    StockReceipt,
    Stocktake,
    StocktakeOut,
    TransferOut,
    TransferStock,
    WriteOffStock,
)
from transactional.api.session import IdempotencyKey, MerchantSession, Session
from transactional.errors import InvalidRequest
from transactional.operations import JsonObject, Performed

router = APIRouter(prefix="/stock", tags=["stock"], responses=ERROR_RESPONSES)

SkuFilter = Annotated[str | None, Query(description="Only this SKU")]
WarehouseFilter = Annotated[str | None, Query(description="Only this warehouse")]


@router.get("", response_model=list[StockLevel], summary="Stock per SKU and warehouse")
def stock_levels(
    session: Session, sku_code: SkuFilter = None, warehouse_code: WarehouseFilter = None
) -> list[StockLevel]:
    return session.read(lambda conn: reads.stock_levels(conn, session.merchant_id, sku_code, warehouse_code))


@router.get("/batches", response_model=list[BatchLevel], summary="Stock per batch (lot) with units on hand")
def batch_levels(
    session: Session, sku_code: SkuFilter = None, warehouse_code: WarehouseFilter = None
) -> list[BatchLevel]:
    condition = (
        "s.on_hand > 0 AND (%s::text IS NULL OR p.sku_code = %s) AND (%s::text IS NULL OR w.warehouse_code = %s)"
    )
    params = [sku_code, sku_code, warehouse_code, warehouse_code]
    return session.read(lambda conn: reads.batch_levels(conn, session.merchant_id, condition, params))


@router.post("/receipts", status_code=201, response_model=BatchOut, summary="Receive a new batch into a warehouse")
def receive(
    body: StockReceipt, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn, merchant_id = session.conn, session.merchant_id

    def receive_batch(at: datetime) -> Performed:
        # Opening stock (imports) may hold expired units still to write off; a delivery may not.
        received_on = stock.business_date(at)
        if body.expiry_date is not None and body.expiry_date <= received_on:
            raise InvalidRequest(
                f"expiry_date {body.expiry_date} is not after the receipt's business date {received_on}: "
                "the batch would arrive expired"
            )
        batch_id = stock.receive_stock(
            conn,
            warehouse_id=lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, body.warehouse_code),
            product_id=lookups.id_of(conn, merchant_id, lookups.SKU, body.sku_code),
            quantity=body.quantity,
            at=at,
            unit_cost=body.unit_cost,
            lot_code=body.lot_code,
            expiry_date=body.expiry_date,
        )
        received = reads.received_batch(conn, batch_id)
        return Performed(received.model_dump(mode="json"), target=f"{received.sku_code}/{received.lot_code}")

    return session.write("stock.receive", body, response, idempotency_key, receive_batch)


def _one_batch(session: MerchantSession, warehouse_id: int, batch_id: int) -> JsonObject:
    [level] = reads.batch_levels(
        session.conn, session.merchant_id, "s.warehouse_id = %s AND s.batch_id = %s", [warehouse_id, batch_id]
    )
    return level.model_dump(mode="json")


def _batch_operation(
    name: str,
    body: FreezeStock | WriteOffStock,
    session: MerchantSession,
    response: Response,
    idempotency_key: str | None,
    service: Callable[[int, int, datetime], None],
) -> JsonObject:
    """Freeze, unfreeze or write off units of one batch; answers with the batch's level after."""
    conn, merchant_id = session.conn, session.merchant_id

    def act(at: datetime) -> Performed:
        warehouse_id = lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, body.warehouse_code)
        batch_id = lookups.batch_id(conn, merchant_id, body.sku_code, body.lot_code)
        service(warehouse_id, batch_id, at)
        return Performed(_one_batch(session, warehouse_id, batch_id))

    target = f"{body.warehouse_code}/{body.sku_code}/{body.lot_code}"
    return session.write(name, body, response, idempotency_key, act, target=target)


@router.post("/freezes", response_model=BatchLevel, summary="Hold free units of a batch back from sale")
def freeze(
    body: FreezeStock, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    def service(warehouse_id: int, batch_id: int, at: datetime) -> None:
        stock.freeze_stock(
            session.conn,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            quantity=body.quantity,
            reason=body.reason,
            at=at,
        )

    return _batch_operation("stock.freeze", body, session, response, idempotency_key, service)


@router.post("/unfreezes", response_model=BatchLevel, summary="Release frozen units of a batch back to sale")
def unfreeze(
    body: FreezeStock, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    def service(warehouse_id: int, batch_id: int, at: datetime) -> None:
        stock.unfreeze_stock(
            session.conn,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            quantity=body.quantity,
            reason=body.reason,
            at=at,
        )

    return _batch_operation("stock.unfreeze", body, session, response, idempotency_key, service)


@router.post("/write-offs", response_model=BatchLevel, summary="Write off damaged units of a batch")
def write_off(
    body: WriteOffStock, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    def service(warehouse_id: int, batch_id: int, at: datetime) -> None:
        stock.write_off_damage(
            session.conn,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            quantity=body.quantity,
            reason=body.reason,
            at=at,
            from_frozen=body.from_frozen,
        )

    return _batch_operation("stock.write_off", body, session, response, idempotency_key, service)


@router.post(
    "/transfers", status_code=201, response_model=TransferOut, summary="Move units of a SKU to another warehouse"
)
def transfer(
    body: TransferStock, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn, merchant_id = session.conn, session.merchant_id

    def act(at: datetime) -> Performed:
        warehouses = lookups.ids(
            conn, merchant_id, lookups.WAREHOUSE, [body.from_warehouse_code, body.to_warehouse_code]
        )
        transfer_id = stock.transfer_stock(
            conn,
            from_warehouse_id=warehouses[body.from_warehouse_code],
            to_warehouse_id=warehouses[body.to_warehouse_code],
            product_id=lookups.id_of(conn, merchant_id, lookups.SKU, body.sku_code),
            quantity=body.quantity,
            at=at,
            note=body.note,
        )
        levels = [
            level
            for level in reads.stock_levels(conn, merchant_id, body.sku_code, None)
            if level.warehouse_code in (body.from_warehouse_code, body.to_warehouse_code)
        ]
        moved = TransferOut(transfer_id=transfer_id, quantity=body.quantity, levels=levels)
        return Performed(moved.model_dump(mode="json"), target=f"transfer {transfer_id}")

    return session.write("stock.transfer", body, response, idempotency_key, act)


@router.post(
    "/stocktakes", status_code=201, response_model=StocktakeOut, summary="Record a count and adjust on-hand to it"
)
def stocktake(
    body: Stocktake, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn, merchant_id = session.conn, session.merchant_id

    def act(at: datetime) -> Performed:
        warehouse_id = lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, body.warehouse_code)
        counts = {lookups.batch_id(conn, merchant_id, c.sku_code, c.lot_code): c.counted_quantity for c in body.counts}
        stocktake_id = stock.record_stocktake(conn, warehouse_id=warehouse_id, counts=counts, at=at, note=body.note)
        batches = reads.batch_levels(
            conn, merchant_id, "s.warehouse_id = %s AND s.batch_id = ANY(%s)", [warehouse_id, list(counts)]
        )
        counted = StocktakeOut(stocktake_id=stocktake_id, batches=batches)
        return Performed(counted.model_dump(mode="json"), target=f"stocktake {stocktake_id}")

    return session.write("stock.stocktake", body, response, idempotency_key, act)


@router.post(
    "/expiry-write-offs",
    response_model=ExpiryWriteOffOut,
    summary="Write off every batch whose expiry date is on or before the business date of `at`",
)
def write_off_expired(
    session: Session, response: Response, idempotency_key: IdempotencyKey = None, body: ExpiryWriteOff | None = None
) -> JsonObject:
    request = body or ExpiryWriteOff()
    conn, merchant_id = session.conn, session.merchant_id

    def act(at: datetime) -> Performed:
        warehouse_id = (
            lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, request.warehouse_code)
            if request.warehouse_code
            else None
        )
        written_off = stock.write_off_expired(conn, merchant_id=merchant_id, at=at, warehouse_id=warehouse_id)
        described = []
        for item in written_off:
            [level] = reads.batch_levels(
                conn, merchant_id, "s.warehouse_id = %s AND s.batch_id = %s", [item.warehouse_id, item.batch_id]
            )
            described.append(
                ExpiredBatchOut(
                    sku_code=level.sku_code,
                    warehouse_code=level.warehouse_code,
                    lot_code=level.lot_code,
                    expiry_date=level.expiry_date,
                    written_off=item.written_off,
                    still_reserved=item.still_reserved,
                )
            )
        return Performed(ExpiryWriteOffOut(batches=described).model_dump(mode="json"), target=request.warehouse_code)

    return session.write("stock.write_off_expired", request, response, idempotency_key, act)
