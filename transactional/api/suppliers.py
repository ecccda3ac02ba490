"""/suppliers/{supplier_code}: grade, blacklist and lift the blacklist of a supplier;
/purchase-approval-rules: the amounts from which purchase orders wait for approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
from fastapi import APIRouter, Response
from psycopg.rows import class_row

from transactional import purchasing
from transactional.api import lookups
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    ApprovalRule,
    ApprovalRuleOut,
    BlacklistSupplier,
    LiftBlacklist,
    SupplierGrade,
    SupplierOut,
    WriteRequest,
)
from transactional.api.session import IdempotencyKey, MerchantSession, Session
from transactional.operations import JsonObject, Performed

router = APIRouter(tags=["suppliers"], responses=ERROR_RESPONSES)


def _supplier(conn: psycopg.Connection, supplier_id: int) -> SupplierOut:
    with conn.cursor(row_factory=class_row(SupplierOut)) as cursor:
        found = cursor.execute(
            """SELECT supplier_code, name, lead_time_days, qualification_grade, is_blacklisted, blacklist_reason,
                      blacklisted_at
               FROM core.suppliers WHERE supplier_id = %s""",
            [supplier_id],
        ).fetchone()
    assert found is not None
    return found


@router.get("/suppliers/{supplier_code}", response_model=SupplierOut, summary="Read a supplier")
def read_supplier(supplier_code: str, session: Session) -> SupplierOut:
    return session.read(
        lambda conn: _supplier(conn, lookups.id_of(conn, session.merchant_id, lookups.SUPPLIER, supplier_code))
    )


def _change(
    session: MerchantSession,
    supplier_code: str,
    operation: str,
    body: WriteRequest,
    response: Response,
    idempotency_key: str | None,
    change: Callable[[int, datetime], None],
) -> JsonObject:
    conn = session.conn

    def act(at: datetime) -> Performed:
        supplier_id = lookups.id_of(conn, session.merchant_id, lookups.SUPPLIER, supplier_code)
        change(supplier_id, at)
        return Performed(_supplier(conn, supplier_id).model_dump(mode="json"))

    return session.write(operation, body, response, idempotency_key, act, target=supplier_code)


@router.post("/suppliers/{supplier_code}/grade", response_model=SupplierOut, summary="Record a qualification grade")
def grade(
    supplier_code: str,
    body: SupplierGrade,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JsonObject:
    def change(supplier_id: int, at: datetime) -> None:
        purchasing.set_supplier_grade(session.conn, supplier_id, body.grade, at)

    return _change(session, supplier_code, "supplier.grade", body, response, idempotency_key, change)


@router.post(
    "/suppliers/{supplier_code}/blacklist",
    response_model=SupplierOut,
    summary="Blacklist a supplier: no new purchase order may go to it",
)
def blacklist(
    supplier_code: str,
    body: BlacklistSupplier,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JsonObject:
    def change(supplier_id: int, at: datetime) -> None:
        purchasing.blacklist_supplier(session.conn, supplier_id, body.reason, at)

    return _change(session, supplier_code, "supplier.blacklist", body, response, idempotency_key, change)


@router.post("/suppliers/{supplier_code}/blacklist-lift", response_model=SupplierOut, summary="Lift a blacklist")
def lift_blacklist(
    supplier_code: str,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: LiftBlacklist | None = None,
) -> JsonObject:
    def change(supplier_id: int, at: datetime) -> None:
        purchasing.lift_supplier_blacklist(session.conn, supplier_id, at)

    request = body or LiftBlacklist()
    return _change(session, supplier_code, "supplier.lift_blacklist", request, response, idempotency_key, change)


def _rules_in_force(conn: psycopg.Connection, merchant_id: int) -> list[ApprovalRuleOut]:
    with conn.cursor(row_factory=class_row(ApprovalRuleOut)) as cursor:
        return cursor.execute(
            """SELECT required_level, min_amount FROM core.purchase_approval_rules
               WHERE merchant_id = %s AND retired_at IS NULL ORDER BY required_level""",
            [merchant_id],
        ).fetchall()


@router.get(
    "/purchase-approval-rules", response_model=list[ApprovalRuleOut], summary="The approval rules in force, by level"
)
def approval_rules(session: Session) -> list[ApprovalRuleOut]:
    return session.read(lambda conn: _rules_in_force(conn, session.merchant_id))


@router.post(
    "/purchase-approval-rules",
    response_model=list[ApprovalRuleOut],
    summary="From this amount on, purchase orders need approval up to this level",
)
def set_approval_rule(
    body: ApprovalRule, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> list[JsonObject]:
    """Replaces the level's rule; orders already open keep the level they were created with.
    Answers with every rule in force."""
    conn, merchant_id = session.conn, session.merchant_id

    def set_rule(at: datetime) -> Performed:
        purchasing.set_approval_rule(
            conn, merchant_id=merchant_id, required_level=body.required_level, min_amount=body.min_amount, at=at
        )
        # A stored response is a JSON object, so the list travels wrapped.
        return Performed({"rules": [rule.model_dump(mode="json") for rule in _rules_in_force(conn, merchant_id)]})

    stored = session.write(
        "purchase_approval_rule.set", body, response, idempotency_key, set_rule, target=f"level {body.required_level}"
    )
    return stored["rules"]
