"""Money: payments for an order, customers' credit lines and the receivables credit terms leave
open, and the merchant's own settlement statements. A key reaches only its merchant's money;
nobody pays more than is owed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Response

from transactional import catalogue, orders
from transactional.api import lookups
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    CreditLine,
    CustomerCreditOut,
    GenerateStatement,
    Moment,
    PaymentOut,
    ReceivableOut,
    RecordPayment,
    StatementKind,
    StatementOut,
)
from transactional.api.session import IdempotencyKey, Session
from transactional.money import payments, settlements
from transactional.money.order_facts import offset_cents_by_order, paid_cents_by_order
from transactional.money.rounding import to_amount
from transactional.operations import JsonObject, Performed

router = APIRouter(tags=["money"], responses=ERROR_RESPONSES)


def _customer_credit(conn: psycopg.Connection, customer_id: int) -> CustomerCreditOut:
    row = conn.execute("SELECT customer_code, credit_limit FROM core.customers WHERE customer_id = %s", [customer_id])
    customer_code, credit_limit = row.fetchone()
    owed = orders.open_credit_exposure(conn, customer_id)
    available = None if credit_limit is None else max(credit_limit - owed, Decimal(0))
    return CustomerCreditOut(
        customer_code=customer_code, credit_limit=credit_limit, owed_on_credit=owed, available=available
    )


@router.get("/customers/{customer_code}/credit", response_model=CustomerCreditOut, summary="A customer's credit line")
def read_customer_credit(customer_code: str, session: Session) -> CustomerCreditOut:
    return session.read(
        lambda conn: _customer_credit(conn, lookups.id_of(conn, session.merchant_id, lookups.CUSTOMER, customer_code))
    )


@router.post(
    "/customers/{customer_code}/credit", response_model=CustomerCreditOut, summary="Set or withdraw a credit line"
)
def set_customer_credit(
    customer_code: str, body: CreditLine, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """Credit orders (payment_method credit, with a 7, 15 or 30-day term) are taken only while
    what the customer owes on credit stays within its limit; a customer without one gets none."""
    conn = session.conn

    def grant(at: datetime) -> Performed:
        customer_id = lookups.id_of(conn, session.merchant_id, lookups.CUSTOMER, customer_code)
        catalogue.set_customer_credit_limit(conn, customer_id, body.credit_limit, at)
        return Performed(_customer_credit(conn, customer_id).model_dump(mode="json"))

    return session.write("customer.set_credit_limit", body, response, idempotency_key, grant, target=customer_code)


def _still_owed_cents(conn: psycopg.Connection, order_id: int) -> int:
    row = conn.execute(
        "SELECT (total_amount * 100)::bigint FROM core.orders WHERE order_id = %s", [order_id]
    ).fetchone()
    assert row is not None
    paid = paid_cents_by_order(conn, [order_id]).get(order_id, 0)
    offset = offset_cents_by_order(conn, [order_id]).get(order_id, 0)
    return int(row[0]) - paid - offset


@router.post(
    "/orders/{order_no}/payments",
    status_code=201,
    response_model=PaymentOut,
    summary="Record money received for an order",
)
def record_payment(
    order_no: str, body: RecordPayment, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """The amount may not exceed what the order still owes: its total, less what was paid and
    what refunds cancelled."""
    conn = session.conn

    def pay(at: datetime) -> Performed:
        order_id = lookups.id_of(conn, session.merchant_id, lookups.ORDER, order_no)
        payment_id = payments.record_payment(
            conn, order_id, body.amount, at, method=body.method, reference=body.reference
        )
        row = conn.execute(
            "SELECT method, amount, paid_at, reference FROM core.payments WHERE payment_id = %s", [payment_id]
        ).fetchone()
        assert row is not None
        method, amount, paid_at, reference = row
        paid = PaymentOut(
            order_no=order_no,
            method=method,
            amount=amount,
            paid_at=paid_at,
            reference=reference,
            still_owed=to_amount(_still_owed_cents(conn, order_id)),
        )
        return Performed(paid.model_dump(mode="json"))

    return session.write("payment.record", body, response, idempotency_key, pay, target=order_no)


@router.get(
    "/receivables", response_model=list[ReceivableOut], summary="Settled orders whose customers still owe, due first"
)
def open_receivables(
    session: Session, at: Annotated[Moment | None, Query(description="As of this moment; default: now")] = None
) -> list[ReceivableOut]:
    moment = at or datetime.now(UTC)

    def receivables(conn: psycopg.Connection) -> list[ReceivableOut]:
        owed = payments.open_receivables(conn, session.merchant_id, moment)
        customer_codes = dict(
            conn.execute(
                "SELECT customer_id, customer_code FROM core.customers WHERE customer_id = ANY(%s)",
                [sorted({receivable.customer_id for receivable in owed})],
            ).fetchall()
        )
        return [
            ReceivableOut(
                order_no=receivable.order_no,
                customer_code=customer_codes[receivable.customer_id],
                payment_method=receivable.payment_method,
                credit_term_days=receivable.credit_term_days,
                due_date=receivable.due_date,
                gross_amount=to_amount(receivable.gross_cents),
                paid_amount=to_amount(receivable.paid_cents),
                refunded_against_amount=to_amount(receivable.refunded_against_cents),
                open_amount=to_amount(receivable.open_cents),
                days_overdue=receivable.days_overdue,
            )
            for receivable in owed
        ]

    return session.read(receivables)


def _statement_out(statement: settlements.Statement) -> StatementOut:
    return StatementOut(
        kind=statement.kind,
        period_start=statement.period_start,
        period_end=statement.period_end,
        order_count=statement.order_count,
        refund_count=statement.refund_count,
        gross_sales=to_amount(statement.gross_sales_cents),
        commission=to_amount(statement.commission_cents),
        refunds=to_amount(statement.refunds_cents),
        commission_refunded=to_amount(statement.commission_refunded_cents),
        net_payable=to_amount(statement.net_payable_cents),
        payout_working_days=statement.payout_working_days,
        payout_due_date=statement.payout_due_date,
        generated_at=statement.generated_at,
    )


@router.get(
    "/settlement-statements", response_model=list[StatementOut], summary="The merchant's statements, newest first"
)
def list_statements(
    session: Session,
    kind: StatementKind | None = None,
    period_start: Annotated[
        date | None, Query(description="Only the statement of the period starting this day")
    ] = None,
) -> list[StatementOut]:
    def statements(conn: psycopg.Connection) -> list[StatementOut]:
        ids = conn.execute(
            """SELECT settlement_statement_id FROM core.settlement_statements
               WHERE merchant_id = %s AND (%s::text IS NULL OR kind = %s)
                 AND (%s::date IS NULL OR period_start = %s)
               ORDER BY period_start DESC, kind""",
            [session.merchant_id, kind, kind, period_start, period_start],
        ).fetchall()
        return [_statement_out(settlements.get_statement(conn, statement_id)) for (statement_id,) in ids]

    return session.read(statements)


@router.post(
    "/settlement-statements",
    status_code=201,
    response_model=StatementOut,
    summary="Issue the merchant's statement for a period that has ended",
)
def generate_statement(
    body: GenerateStatement, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """Sums the sales and refunds posted in the period; once issued, its days take no new sales or
    refunds. Asking again for the same period returns the statement already issued."""

    def generate(at: datetime) -> Performed:
        statement = settlements.generate_statement(session.conn, session.merchant_id, body.kind, body.period_start, at)
        return Performed(_statement_out(statement).model_dump(mode="json"))

    target = f"{body.kind}/{body.period_start.isoformat()}"
    return session.write("settlement_statement.generate", body, response, idempotency_key, generate, target=target)
