"""/products/{sku_code}: list prices, promotion prices and unit costs (each change a new history
row), the price history, and the quote the price rule gives for a sale."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Response
from psycopg.rows import class_row

from transactional import prices
from transactional.api import lookups
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    Moment,
    PriceChangeOut,
    PromotionPriceOut,
    QuoteOut,
    SetPrice,
    SetPromotionPrice,
    SetUnitCost,
    Tier,
    UnitCostOut,
)
from transactional.api.session import IdempotencyKey, Session
from transactional.limits import MAX_QUANTITY
from transactional.operations import JsonObject, Performed
from transactional.stock import BUSINESS_TIMEZONE

router = APIRouter(prefix="/products/{sku_code}", tags=["prices"], responses=ERROR_RESPONSES)

_PRICE_CHANGES = """
    SELECT p.sku_code, h.tier, h.region, h.min_quantity, h.unit_price, h.valid_from
    FROM core.product_price_history h JOIN core.products p USING (product_id)
"""


def _price_change(conn: psycopg.Connection, price_change_id: int) -> PriceChangeOut:
    with conn.cursor(row_factory=class_row(PriceChangeOut)) as cursor:
        changed = cursor.execute(f"{_PRICE_CHANGES} WHERE h.price_change_id = %s", [price_change_id]).fetchone()
    assert changed is not None
    return changed


@router.post("/prices", status_code=201, response_model=PriceChangeOut, summary="Change a price from `at` on")
def set_price(
    sku_code: str, body: SetPrice, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """One key (tier, region, quantity break) gets a new price; the national retail single-unit
    price is the SKU's list price. A change dated at or before the key's last change is refused."""
    conn = session.conn

    def change(at: datetime) -> Performed:
        price_change_id = prices.set_price(
            conn,
            product_id=lookups.id_of(conn, session.merchant_id, lookups.SKU, sku_code),
            unit_price=body.unit_price,
            at=at,
            tier=body.tier,
            region=body.region,
            min_quantity=body.min_quantity,
        )
        return Performed(_price_change(conn, price_change_id).model_dump(mode="json"))

    return session.write("price.set", body, response, idempotency_key, change, target=sku_code)


@router.post(
    "/promotion-prices",
    status_code=201,
    response_model=PromotionPriceOut,
    summary="A temporary price for [valid_from, valid_until)",
)
def set_promotion_price(
    sku_code: str,
    body: SetPromotionPrice,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JsonObject:
    conn = session.conn

    def promote(at: datetime) -> Performed:
        promotion_price_id = prices.set_promotion_price(
            conn,
            product_id=lookups.id_of(conn, session.merchant_id, lookups.SKU, sku_code),
            promotion_price=body.promotion_price,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            at=at,
            tier=body.tier,
            region=body.region,
            label=body.label,
        )
        with conn.cursor(row_factory=class_row(PromotionPriceOut)) as cursor:
            recorded = cursor.execute(
                """SELECT p.sku_code, pp.promotion_price, pp.valid_from, pp.valid_until, pp.tier, pp.region,
                          pp.label, pp.recorded_at
                   FROM core.product_promotion_prices pp JOIN core.products p USING (product_id)
                   WHERE pp.promotion_price_id = %s""",
                [promotion_price_id],
            ).fetchone()
        assert recorded is not None
        return Performed(recorded.model_dump(mode="json"))

    return session.write("price.set_promotion", body, response, idempotency_key, promote, target=sku_code)


@router.post("/unit-costs", status_code=201, response_model=UnitCostOut, summary="Change the purchase cost")
def set_unit_cost(
    sku_code: str, body: SetUnitCost, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn = session.conn

    def change(at: datetime) -> Performed:
        cost_change_id = prices.set_unit_cost(
            conn,
            product_id=lookups.id_of(conn, session.merchant_id, lookups.SKU, sku_code),
            unit_cost=body.unit_cost,
            at=at,
        )
        with conn.cursor(row_factory=class_row(UnitCostOut)) as cursor:
            changed = cursor.execute(
                """SELECT p.sku_code, c.unit_cost, c.valid_from
                   FROM core.product_cost_history c JOIN core.products p USING (product_id)
                   WHERE c.cost_change_id = %s""",
                [cost_change_id],
            ).fetchone()
        assert changed is not None
        return Performed(changed.model_dump(mode="json"))

    return session.write("price.set_unit_cost", body, response, idempotency_key, change, target=sku_code)


@router.get("/quote", response_model=QuoteOut, summary="The unit price of a sale, by the price rule")
def quote(
    sku_code: str,
    session: Session,
    quantity: Annotated[int, Query(ge=1, le=MAX_QUANTITY)],
    tier: Tier = "retail",
    region: Annotated[str | None, Query(min_length=1, max_length=64, description="The customer's region")] = None,
    at: Annotated[Moment | None, Query(description="When the sale happens; default: now")] = None,
) -> QuoteOut:
    # In business time, as every other time the API answers with (+08:00, not Z).
    moment = at or datetime.now(BUSINESS_TIMEZONE)

    def price(conn: psycopg.Connection) -> QuoteOut:
        product_id = lookups.id_of(conn, session.merchant_id, lookups.SKU, sku_code)
        quoted = prices.quote(conn, product_id=product_id, quantity=quantity, at=moment, tier=tier, region=region)
        return QuoteOut(
            sku_code=quoted.sku_code,
            quantity=quoted.quantity,
            unit_price=quoted.unit_price,
            amount=quoted.amount,
            list_price=quoted.list_price,
            rule=quoted.rule,
            tier=quoted.tier,
            region=quoted.region,
            min_quantity=quoted.min_quantity,
            at=moment,
        )

    return session.read(price)


@router.get(
    "/price-history", response_model=list[PriceChangeOut], summary="Every price change of the SKU, oldest first"
)
def price_history(sku_code: str, session: Session) -> list[PriceChangeOut]:
    def history(conn: psycopg.Connection) -> list[PriceChangeOut]:
        product_id = lookups.id_of(conn, session.merchant_id, lookups.SKU, sku_code)
        with conn.cursor(row_factory=class_row(PriceChangeOut)) as cursor:
            return cursor.execute(
                f"{_PRICE_CHANGES} WHERE h.product_id = %s ORDER BY h.valid_from, h.price_change_id", [product_id]
            ).fetchall()

    return session.read(history)
