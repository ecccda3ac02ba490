"""/promotions and /coupons: run a full reduction, a percentage discount or a flash sale; issue a
coupon customers quote by code. Orders apply them by the combination rule of transactional.promotions."""

from __future__ import annotations

from datetime import datetime

import psycopg
from fastapi import APIRouter, Response
from psycopg.rows import class_row

from transactional import promotions
from transactional.api import lookups
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    CouponOut,
    CreateCoupon,
    CreatePromotion,
    FlashSale,
    FullReduction,
    PercentageDiscount,
    PromotionOut,
    ScopedPromotion,
)
from transactional.api.session import IdempotencyKey, Session
from transactional.operations import JsonObject, Performed

router = APIRouter(tags=["promotions"], responses=ERROR_RESPONSES)


def _promotion(conn: psycopg.Connection, promotion_id: int) -> PromotionOut:
    with conn.cursor(row_factory=class_row(PromotionOut)) as cursor:
        found = cursor.execute(
            """SELECT pr.promotion_code, pr.name, pr.kind, pr.starts_at, pr.ends_at, p.sku_code, c.category_code,
                      pr.threshold_amount, pr.reduction_amount, pr.repeat_per_threshold, pr.percent_off,
                      pr.flash_price, pr.quantity_cap, pr.sold_quantity, pr.per_customer_limit
               FROM core.promotions pr
               LEFT JOIN core.products p ON p.product_id = pr.product_id
               LEFT JOIN core.categories c ON c.category_id = pr.category_id
               WHERE pr.promotion_id = %s""",
            [promotion_id],
        ).fetchone()
    assert found is not None
    return found


def _scope(conn: psycopg.Connection, merchant_id: int, body: ScopedPromotion) -> dict[str, int | None]:
    return {
        "product_id": lookups.id_of(conn, merchant_id, lookups.SKU, body.sku_code) if body.sku_code else None,
        "category_id": lookups.category_id(conn, body.category_code) if body.category_code else None,
    }


def _create(conn: psycopg.Connection, merchant_id: int, body: CreatePromotion, at: datetime) -> int:
    common = {
        "merchant_id": merchant_id,
        "promotion_code": body.promotion_code,
        "name": body.name,
        "starts_at": body.starts_at,
        "ends_at": body.ends_at,
        "at": at,
    }
    if isinstance(body, FullReduction):
        return promotions.create_full_reduction(
            conn,
            **common,
            **_scope(conn, merchant_id, body),
            threshold_amount=body.threshold_amount,
            reduction_amount=body.reduction_amount,
            repeat_per_threshold=body.repeat_per_threshold,
        )
    if isinstance(body, PercentageDiscount):
        return promotions.create_percentage_discount(
            conn, **common, **_scope(conn, merchant_id, body), percent_off=body.percent_off
        )
    assert isinstance(body, FlashSale)
    return promotions.create_flash_sale(
        conn,
        **common,
        product_id=lookups.id_of(conn, merchant_id, lookups.SKU, body.sku_code),
        flash_price=body.flash_price,
        quantity_cap=body.quantity_cap,
        per_customer_limit=body.per_customer_limit,
    )


@router.post("/promotions", status_code=201, response_model=PromotionOut, summary="Run a promotion")
def create_promotion(
    body: CreatePromotion, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """`kind` picks the promotion: `full_reduction` (spend a threshold, get an amount off),
    `percentage` (a percentage off each line in scope) or `flash_sale` (one SKU at a flash price,
    up to a quantity cap). Full reductions and percentages apply to one SKU, one category, or
    (with neither) the whole shop."""
    conn = session.conn

    def create(at: datetime) -> Performed:
        promotion_id = _create(conn, session.merchant_id, body, at)
        return Performed(_promotion(conn, promotion_id).model_dump(mode="json"))

    return session.write(
        f"promotion.create_{body.kind}", body, response, idempotency_key, create, target=body.promotion_code
    )


@router.get("/promotions/{promotion_code}", response_model=PromotionOut, summary="Read a promotion")
def read_promotion(promotion_code: str, session: Session) -> PromotionOut:
    return session.read(
        lambda conn: _promotion(conn, lookups.id_of(conn, session.merchant_id, lookups.PROMOTION, promotion_code))
    )


@router.post("/coupons", status_code=201, response_model=CouponOut, summary="Issue a coupon")
def create_coupon(
    body: CreateCoupon, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """Either `amount_off` or `percent_off`, from `threshold_amount`; at most `per_customer_limit`
    uses per customer and `total_quantity` in all; a new-customer coupon only on a first order."""
    conn = session.conn

    def issue(at: datetime) -> Performed:
        coupon_id = promotions.create_coupon(
            conn,
            merchant_id=session.merchant_id,
            coupon_code=body.coupon_code,
            name=body.name,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            at=at,
            amount_off=body.amount_off,
            percent_off=body.percent_off,
            threshold_amount=body.threshold_amount,
            per_customer_limit=body.per_customer_limit,
            total_quantity=body.total_quantity,
            new_customers_only=body.new_customers_only,
        )
        with conn.cursor(row_factory=class_row(CouponOut)) as cursor:
            issued = cursor.execute(
                """SELECT coupon_code, name, valid_from, valid_until, amount_off, percent_off, threshold_amount,
                          per_customer_limit, total_quantity, new_customers_only
                   FROM core.coupons WHERE coupon_id = %s""",
                [coupon_id],
            ).fetchone()
        assert issued is not None
        return Performed(issued.model_dump(mode="json"))

    return session.write("coupon.create", body, response, idempotency_key, issue, target=body.coupon_code)
