"""Purchasing against a real PostgreSQL: multi-level approval, the blacklist refused by the
database itself, supplier agreements, and receipts that record timeliness (Asia/Shanghai business
dates) and quality, with only passed units entering stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, db, purchasing
from transactional.errors import InvalidRequest, InvalidTransition, SupplierBlacklisted
from transactional.purchasing import Inspection, PurchaseLineRequest

SHANGHAI = ZoneInfo("Asia/Shanghai")
ORDERED = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # the supplier's lead time makes it due 7 March


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    supplier_id: int
    fertiliser: int
    seed: int


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    at = ORDERED - timedelta(days=30)
    merchant = catalogue.create_merchant(conn, "M920", "采购测试社", at)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", at)
    leaf = category_path(conn, "Q1", ("农资", "化肥", "复合肥"), at).leaf
    supplier = catalogue.create_supplier(conn, merchant, "S01", "丰收化肥厂", 5, at, qualification_grade="B")
    fertiliser = catalogue.create_product(
        conn, merchant, "FERT-50", "复合肥 50kg", leaf, Decimal("80.00"), Decimal("98.00"), at, supplier_id=supplier
    )
    seed = catalogue.create_product(
        conn, merchant, "SEED-01", "玉米种子", leaf, Decimal("20.00"), Decimal("30.00"), at, supplier_id=supplier
    )
    conn.commit()
    return Shop(merchant, warehouse, supplier, fertiliser, seed)


def order(conn: psycopg.Connection, shop: Shop, *lines: PurchaseLineRequest, at: datetime = ORDERED) -> int:
    return purchasing.create_purchase_order(
        conn,
        merchant_id=shop.merchant_id,
        supplier_id=shop.supplier_id,
        warehouse_id=shop.warehouse_id,
        lines=list(lines),
        at=at,
    )


def require_approval(conn: psycopg.Connection, shop: Shop, level: int, from_amount: str) -> None:
    purchasing.set_approval_rule(
        conn, merchant_id=shop.merchant_id, required_level=level, min_amount=Decimal(from_amount), at=ORDERED
    )


def draft_of_50_bags(conn: psycopg.Connection, shop: Shop) -> int:
    """A draft of 50 bags of fertiliser, 4000 CNY."""
    return purchasing.create_purchase_order(
        conn,
        merchant_id=shop.merchant_id,
        supplier_id=shop.supplier_id,
        warehouse_id=shop.warehouse_id,
        lines=[PurchaseLineRequest(shop.fertiliser, 50)],
        at=ORDERED,
        draft=True,
    )


def status(conn: psycopg.Connection, purchase_order_id: int) -> str:
    row = conn.execute("SELECT status FROM core.purchase_orders WHERE purchase_order_id = %s", [purchase_order_id])
    return row.fetchone()[0]


def on_hand(conn: psycopg.Connection, product_id: int) -> int:
    row = conn.execute("SELECT coalesce(sum(on_hand), 0) FROM core.stock WHERE product_id = %s", [product_id])
    return row.fetchone()[0]


def test_without_approval_rules_an_order_opens_at_once_and_is_received_in_full(conn, shop: Shop) -> None:
    po = order(
        conn, shop, PurchaseLineRequest(shop.fertiliser, 100, Decimal("79.00")), PurchaseLineRequest(shop.seed, 40)
    )
    assert status(conn, po) == "open"
    receipt = purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=5))
    assert (receipt.status, receipt.on_time, receipt.delivered_quantity, receipt.passed_quantity) == (
        "received",
        True,
        140,
        140,
    )
    assert (on_hand(conn, shop.fertiliser), on_hand(conn, shop.seed)) == (100, 40)
    lines = conn.execute(
        "SELECT product_id, unit_cost, received_quantity FROM core.purchase_order_lines ORDER BY product_id"
    ).fetchall()
    assert lines == [(shop.fertiliser, Decimal("79.00"), 100), (shop.seed, Decimal("20.00"), 40)]
    with pytest.raises(InvalidTransition, match="is received; only an open or partly received order"):
        purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=6))


def test_large_orders_wait_for_every_approval_level_in_order(conn, shop: Shop) -> None:
    require_approval(conn, shop, 1, "1000")
    require_approval(conn, shop, 2, "5000")

    small = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 10))  # 800 CNY
    medium = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 25))  # 2000 CNY
    large = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 75))  # 6000 CNY
    assert [status(conn, po) for po in (small, medium, large)] == ["open", "pending_approval", "pending_approval"]
    with pytest.raises(InvalidTransition, match="is pending_approval; only an open"):
        purchasing.receive_purchase_order(conn, medium, ORDERED + timedelta(days=1))

    assert purchasing.approve_purchase_order(conn, medium, "张经理", 1, ORDERED + timedelta(hours=1)) == "open"

    with pytest.raises(InvalidTransition, match="awaits level 1 approval, not level 2"):
        purchasing.approve_purchase_order(conn, large, "李总", 2, ORDERED + timedelta(hours=1))
    assert (
        purchasing.approve_purchase_order(conn, large, "张经理", 1, ORDERED + timedelta(hours=1)) == "pending_approval"
    )
    with pytest.raises(InvalidTransition, match=r"张经理 already signed .* at level 1"):
        purchasing.approve_purchase_order(conn, large, "张经理", 2, ORDERED + timedelta(hours=2))
    assert purchasing.approve_purchase_order(conn, large, "李总", 2, ORDERED + timedelta(hours=2)) == "open"

    decisions = conn.execute(
        """SELECT level, approver, decision FROM core.purchase_order_approvals
           WHERE purchase_order_id = %s ORDER BY level""",
        [large],
    ).fetchall()
    assert decisions == [(1, "张经理", "approved"), (2, "李总", "approved")]
    with pytest.raises(InvalidTransition, match="is open: it awaits no approval"):
        purchasing.approve_purchase_order(conn, large, "王董", 3, ORDERED + timedelta(hours=3))
    assert purchasing.receive_purchase_order(conn, large, ORDERED + timedelta(days=4)).passed_quantity == 75

    # Retiring level 2 leaves level 1 for the next large order; the orders already made keep theirs.
    purchasing.retire_approval_rule(
        conn, merchant_id=shop.merchant_id, required_level=2, at=ORDERED + timedelta(days=1)
    )
    later = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 75), at=ORDERED + timedelta(days=1))
    required = "SELECT required_approval_level FROM core.purchase_orders WHERE purchase_order_id = %s"
    assert conn.execute(required, [later]).fetchone() == (1,)
    assert conn.execute(required, [large]).fetchone() == (2,)


def test_one_approver_under_two_spellings_signs_one_level_only(conn, shop: Shop) -> None:
    require_approval(conn, shop, 2, "5000")
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 100))
    purchasing.approve_purchase_order(conn, po, "wang.li", 1, ORDERED + timedelta(hours=1))
    with pytest.raises(InvalidTransition, match=r"WANG\.LI already signed .* at level 1"):
        purchasing.approve_purchase_order(conn, po, "WANG.LI", 2, ORDERED + timedelta(hours=2))


def test_a_rejection_ends_the_order_and_must_say_why(conn, shop: Shop) -> None:
    require_approval(conn, shop, 2, "5000")
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 100))
    purchasing.approve_purchase_order(conn, po, "张经理", 1, ORDERED + timedelta(hours=1))
    with pytest.raises(InvalidRequest, match="needs a reason"):
        purchasing.reject_purchase_order(conn, po, "李总", 2, ORDERED + timedelta(hours=2), " ")
    assert (
        purchasing.reject_purchase_order(conn, po, "李总", 2, ORDERED + timedelta(hours=2), "价格高于协议价")
        == "rejected"
    )
    with pytest.raises(InvalidTransition, match="is rejected: it awaits no approval"):
        purchasing.approve_purchase_order(conn, po, "王董", 3, ORDERED + timedelta(hours=3))
    with pytest.raises(InvalidTransition, match="is rejected; only an open"):
        purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=5))
    assert on_hand(conn, shop.fertiliser) == 0


def test_the_database_refuses_an_order_that_skips_its_approval(conn, shop: Shop) -> None:
    require_approval(conn, shop, 1, "1000")
    conn.commit()
    row = conn.execute(
        """INSERT INTO core.purchase_orders (merchant_id, supplier_id, warehouse_id, status, ordered_at, expected_at,
               updated_at) VALUES (%s, %s, %s, 'open', %s, %s, %s) RETURNING purchase_order_id""",
        [shop.merchant_id, shop.supplier_id, shop.warehouse_id, ORDERED, ORDERED, ORDERED],
    ).fetchone()
    conn.execute(
        """INSERT INTO core.purchase_order_lines (purchase_order_id, merchant_id, product_id, quantity, unit_cost)
           VALUES (%s, %s, %s, 50, 80)""",
        [row[0], shop.merchant_id, shop.fertiliser],
    )
    with pytest.raises(psycopg.errors.CheckViolation, match=r"of 4000\.00 CNY needs approval up to level 1, not 0"):
        conn.commit()
    assert conn.execute("SELECT count(*) FROM core.purchase_orders").fetchone() == (0,)

    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 50))
    conn.commit()
    for statement, error in (
        ("UPDATE core.purchase_orders SET approved_level = 1", psycopg.errors.InsufficientPrivilege),
        ("UPDATE core.purchase_orders SET status = 'open'", psycopg.errors.CheckViolation),
        (
            "UPDATE core.purchase_orders SET status = 'received', received_at = updated_at",
            psycopg.errors.CheckViolation,
        ),
        ("UPDATE core.purchase_orders SET required_approval_level = 0", psycopg.errors.CheckViolation),
        ("DELETE FROM core.purchase_order_approvals", psycopg.errors.InsufficientPrivilege),
    ):
        with pytest.raises(error):
            conn.execute(statement)
        conn.rollback()
    assert status(conn, po) == "pending_approval"


def test_a_draft_fixes_its_approval_level_when_submitted(conn, shop: Shop) -> None:
    require_approval(conn, shop, 1, "1000")
    draft = draft_of_50_bags(conn, shop)
    conn.commit()  # the deferred level check lets a draft of any amount through
    assert status(conn, draft) == "draft"
    with pytest.raises(InvalidTransition, match="is draft: it awaits no approval"):
        purchasing.approve_purchase_order(conn, draft, "张经理", 1, ORDERED)
    with pytest.raises(InvalidTransition, match="is draft; only an open"):
        purchasing.receive_purchase_order(conn, draft, ORDERED)
    # Procurement trims the draft to 10 bags (800 CNY) before sending: no approval needed then.
    conn.execute("UPDATE core.purchase_order_lines SET quantity = 10 WHERE purchase_order_id = %s", [draft])
    submitted = ORDERED + timedelta(days=1)
    assert purchasing.submit_purchase_order(conn, draft, submitted) == "open"
    conn.commit()
    ordered_at, expected_at = conn.execute(
        "SELECT ordered_at, expected_at FROM core.purchase_orders WHERE purchase_order_id = %s", [draft]
    ).fetchone()
    assert (ordered_at, expected_at) == (submitted, submitted + timedelta(days=5))
    with pytest.raises(InvalidTransition, match="is open: only a draft can be submitted"):
        purchasing.submit_purchase_order(conn, draft, submitted)

    large = draft_of_50_bags(conn, shop)
    assert purchasing.submit_purchase_order(conn, large, submitted) == "pending_approval"
    conn.commit()
    assert purchasing.approve_purchase_order(conn, large, "张经理", 1, submitted) == "open"

    # A raw submission that skips the approval is refused at commit, as an insert would be.
    raw = draft_of_50_bags(conn, shop)
    conn.commit()
    conn.execute("UPDATE core.purchase_orders SET status = 'open' WHERE purchase_order_id = %s", [raw])
    with pytest.raises(psycopg.errors.CheckViolation, match=r"of 4000\.00 CNY needs approval up to level 1, not 0"):
        conn.commit()
    purchasing.cancel_purchase_order(conn, raw, submitted)
    conn.commit()
    assert status(conn, raw) == "cancelled"


def test_a_blacklisted_supplier_gets_no_order_even_from_a_raw_insert(conn, shop: Shop) -> None:
    require_approval(conn, shop, 1, "1000")
    pending = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 50))
    sent = order(conn, shop, PurchaseLineRequest(shop.seed, 10))
    with pytest.raises(InvalidRequest, match="needs a reason"):
        purchasing.blacklist_supplier(conn, shop.supplier_id, "", ORDERED)
    purchasing.blacklist_supplier(conn, shop.supplier_id, "以次充好", ORDERED + timedelta(hours=1))
    conn.commit()

    with pytest.raises(SupplierBlacklisted, match="supplier S01 is blacklisted \\(以次充好\\)"):
        order(conn, shop, PurchaseLineRequest(shop.seed, 10), at=ORDERED + timedelta(hours=2))
    with pytest.raises(SupplierBlacklisted, match="S01"):
        purchasing.approve_purchase_order(conn, pending, "张经理", 1, ORDERED + timedelta(hours=2))
    with pytest.raises(psycopg.errors.CheckViolation, match="supplier S01 is blacklisted \\(以次充好\\)"):
        conn.execute(
            """INSERT INTO core.purchase_orders (merchant_id, supplier_id, warehouse_id, status, ordered_at,
                   expected_at, updated_at) VALUES (%s, %s, %s, 'open', %s, %s, %s)""",
            [shop.merchant_id, shop.supplier_id, shop.warehouse_id, ORDERED, ORDERED, ORDERED],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="blacklisted"):
        conn.execute(
            """INSERT INTO core.purchase_order_approvals (purchase_order_id, merchant_id, level, decision, approver,
                   decided_at) VALUES (%s, %s, 1, 'approved', '张经理', %s)""",
            [pending, shop.merchant_id, ORDERED],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="suppliers_blacklist_has_reason_and_time"):
        conn.execute("UPDATE core.suppliers SET blacklist_reason = NULL")
    conn.rollback()

    # An order sent before the blacklisting is still delivered.
    assert purchasing.receive_purchase_order(conn, sent, ORDERED + timedelta(days=5)).status == "received"
    purchasing.lift_supplier_blacklist(conn, shop.supplier_id, ORDERED + timedelta(days=10))
    assert purchasing.approve_purchase_order(conn, pending, "张经理", 1, ORDERED + timedelta(days=10)) == "open"
    assert (
        status(conn, order(conn, shop, PurchaseLineRequest(shop.seed, 10), at=ORDERED + timedelta(days=10))) == "open"
    )


def test_receipts_record_lateness_by_shanghai_date_and_only_passed_units_enter_stock(conn, shop: Shop) -> None:
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 100), PurchaseLineRequest(shop.seed, 40))
    due_day_early = datetime(2026, 3, 7, 1, 0, tzinfo=SHANGHAI)  # 6 March in UTC, still on time
    first = purchasing.receive_purchase_order(
        conn, po, due_day_early, lines={shop.fertiliser: 60}, quality={shop.fertiliser: Inspection(5, "包装破损")}
    )
    assert (first.on_time, first.days_late, first.status) == (True, 0, "partially_received")
    assert (first.delivered_quantity, first.passed_quantity, first.rejected_quantity) == (60, 55, 5)
    assert on_hand(conn, shop.fertiliser) == 55

    with pytest.raises(InvalidRequest, match="FERT-50 has 45 units outstanding, a delivery of 46 is more"):
        purchasing.receive_purchase_order(conn, po, due_day_early, lines={shop.fertiliser: 46})
    with pytest.raises(InvalidRequest, match="SEED-01 delivered 40 units, so 0 to 40 can fail inspection, not 41"):
        purchasing.receive_purchase_order(conn, po, due_day_early, quality={shop.seed: Inspection(41, "发霉")})

    after_midnight = datetime(2026, 3, 8, 0, 30, tzinfo=SHANGHAI)  # still 7 March in UTC, but a day late here
    assert after_midnight.astimezone(UTC).date() == datetime(2026, 3, 7).date()
    second = purchasing.receive_purchase_order(
        conn, po, after_midnight, quality={shop.seed: Inspection(10, "发芽率不达标")}
    )
    assert (second.on_time, second.days_late, second.status) == (False, 1, "partially_received")
    assert (second.delivered_quantity, second.passed_quantity) == (85, 75)

    all_failed = purchasing.receive_purchase_order(
        conn, po, after_midnight + timedelta(days=2), lines={shop.seed: 10}, quality={shop.seed: Inspection(10, "发霉")}
    )
    assert (all_failed.batch_ids, all_failed.status, all_failed.days_late) == ((), "partially_received", 3)
    last = purchasing.receive_purchase_order(conn, po, after_midnight + timedelta(days=3))
    assert (last.status, last.passed_quantity) == ("received", 10)

    assert (on_hand(conn, shop.fertiliser), on_hand(conn, shop.seed)) == (100, 40)
    ledger = conn.execute(
        """SELECT sum(on_hand_delta) FROM core.stock_movements
           WHERE purchase_order_id = %s AND movement_type = 'receipt'""",
        [po],
    ).fetchone()
    assert ledger == (140,)
    inspected = conn.execute(
        """SELECT p.sku_code, l.delivered_quantity, l.passed_quantity, l.rejected_quantity, l.rejection_reason
           FROM core.purchase_receipt_lines l JOIN core.products p USING (product_id) ORDER BY l.receipt_line_id"""
    ).fetchall()
    assert inspected == [
        ("FERT-50", 60, 55, 5, "包装破损"),
        ("FERT-50", 45, 45, 0, None),
        ("SEED-01", 40, 30, 10, "发芽率不达标"),
        ("SEED-01", 10, 0, 10, "发霉"),
        ("SEED-01", 10, 10, 0, None),
    ]
    received_at = conn.execute("SELECT received_at FROM core.purchase_orders WHERE purchase_order_id = %s", [po])
    assert received_at.fetchone() == (after_midnight + timedelta(days=3),)

    performance = purchasing.supplier_performance(conn, shop.supplier_id, ORDERED, ORDERED + timedelta(days=30))
    assert (performance.deliveries, performance.on_time_deliveries) == (4, 1)
    assert (performance.on_time_rate, performance.quality_pass_rate) == (0.25, 140 / 165)


def test_receipts_and_received_quantities_cannot_be_rewritten(conn, shop: Shop) -> None:
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 10))
    purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=1), lines={shop.fertiliser: 4})
    conn.commit()
    for statement in (
        "UPDATE core.purchase_order_lines SET received_quantity = 10",
        "UPDATE core.purchase_receipt_lines SET passed_quantity = 10",
        "DELETE FROM core.purchase_receipts",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    purchasing.cancel_purchase_order(conn, po, ORDERED + timedelta(days=2))
    with pytest.raises(psycopg.errors.CheckViolation, match="is cancelled: it takes no deliveries"):
        conn.execute(
            """INSERT INTO core.purchase_receipts (merchant_id, purchase_order_id, received_at, expected_at)
               VALUES (%s, %s, %s, %s)""",
            [shop.merchant_id, po, ORDERED + timedelta(days=3), ORDERED],
        )
    conn.rollback()


def test_cancelling_a_partly_received_order_keeps_what_arrived(conn, shop: Shop) -> None:
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 10))
    purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=1), lines={shop.fertiliser: 4})
    purchasing.cancel_purchase_order(conn, po, ORDERED + timedelta(days=2))
    assert (status(conn, po), on_hand(conn, shop.fertiliser)) == ("cancelled", 4)
    with pytest.raises(InvalidTransition, match="is cancelled; it can no longer be cancelled"):
        purchasing.cancel_purchase_order(conn, po, ORDERED + timedelta(days=3))
    with pytest.raises(InvalidTransition, match="is cancelled; only an open"):
        purchasing.receive_purchase_order(conn, po, ORDERED + timedelta(days=3))


def test_lines_without_a_cost_take_the_agreement_in_force_and_the_order_records_it(conn, shop: Shop) -> None:
    agreement = purchasing.create_supplier_agreement(
        conn,
        supplier_id=shop.supplier_id,
        agreement_code="AG-2026-01",
        valid_from=ORDERED - timedelta(days=10),
        valid_until=ORDERED + timedelta(days=10),
        at=ORDERED - timedelta(days=10),
        agreed_unit_costs={shop.fertiliser: Decimal("75.00")},
        rebate_pct=Decimal("2.50"),
    )
    po = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 10), PurchaseLineRequest(shop.seed, 10))
    costs = conn.execute(
        "SELECT product_id, unit_cost FROM core.purchase_order_lines WHERE purchase_order_id = %s ORDER BY product_id",
        [po],
    ).fetchall()
    assert costs == [(shop.fertiliser, Decimal("75.00")), (shop.seed, Decimal("20.00"))]
    assert conn.execute(
        "SELECT agreement_id FROM core.purchase_orders WHERE purchase_order_id = %s", [po]
    ).fetchone() == (agreement,)
    in_force = purchasing.agreement_in_force(conn, shop.supplier_id, ORDERED)
    assert in_force is not None and in_force.rebate_pct == Decimal("2.50")
    with pytest.raises(InvalidRequest, match="agreement AG-2026-01 already exists"):
        purchasing.create_supplier_agreement(
            conn,
            supplier_id=shop.supplier_id,
            agreement_code="AG-2026-01",
            valid_from=ORDERED,
            at=ORDERED,
            agreed_unit_costs={},
        )

    after_expiry = order(conn, shop, PurchaseLineRequest(shop.fertiliser, 10), at=ORDERED + timedelta(days=10))
    expired = conn.execute(
        """SELECT po.agreement_id, l.unit_cost FROM core.purchase_orders po JOIN core.purchase_order_lines l
           USING (purchase_order_id) WHERE purchase_order_id = %s""",
        [after_expiry],
    ).fetchone()
    assert expired == (None, Decimal("80.00"))


def test_supplier_grades_are_a_to_d(conn, shop: Shop) -> None:
    purchasing.set_supplier_grade(conn, shop.supplier_id, "A", ORDERED)
    with pytest.raises(InvalidRequest, match="one of A, B, C, D, not 'E'"):
        purchasing.set_supplier_grade(conn, shop.supplier_id, "E", ORDERED)
    grade = conn.execute("SELECT qualification_grade FROM core.suppliers WHERE supplier_id = %s", [shop.supplier_id])
    assert grade.fetchone() == ("A",)


def test_the_application_role_runs_purchasing_under_row_security(pg_database_url: str, shop: Shop) -> None:
    with psycopg.connect(db.as_role(pg_database_url, db.APP_ROLE)) as app, app.transaction():
        db.act_for_merchant(app, shop.merchant_id)
        require_approval(app, shop, 1, "1000")
        po = order(app, shop, PurchaseLineRequest(shop.fertiliser, 20))
        assert purchasing.approve_purchase_order(app, po, "张经理", 1, ORDERED + timedelta(hours=1)) == "open"
        receipt = purchasing.receive_purchase_order(
            app, po, ORDERED + timedelta(days=5), quality={shop.fertiliser: Inspection(2, "受潮")}
        )
        assert (receipt.passed_quantity, receipt.status) == (18, "partially_received")
        purchasing.retire_approval_rule(app, merchant_id=shop.merchant_id, required_level=1, at=ORDERED)
        purchasing.blacklist_supplier(app, shop.supplier_id, "资质过期", ORDERED + timedelta(days=6))
        assert on_hand(app, shop.fertiliser) == 18
