"""Importing products, stock and order history from .xlsx and .csv against a real PostgreSQL,
including hostile files: each is refused with a message naming file, row and column, and nothing
is written."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import struct
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pytest

from tests.conftest import PipelineRun, run_cli
from transactional import catalogue
from transactional.errors import ImportRefused, ImportRejected
from transactional.imports import ImportLimits, ImportOptions, ImportReport, Status, import_file, write_template

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MERCHANT_TABLES = ("orders", "order_lines", "customers", "products", "batches", "stock_movements", "operation_log")
merchant_numbers = itertools.count(900)


@dataclass(frozen=True)
class Shop:
    code: str
    merchant_id: int
    warehouse_id: int
    product_id: int
    customer_id: int


@pytest.fixture(scope="module")
def database_url(database_factory) -> str:
    """One database for the module (a merchant per test) with the category tree the templates use."""
    url = database_factory()
    with psycopg.connect(url) as conn:
        top = catalogue.create_category(conn, "01", "农资", 1, AT)
        middle = catalogue.create_category(conn, "0101", "化肥", 2, AT, top)
        catalogue.create_category(conn, "010101", "复合肥", 3, AT, middle)
        catalogue.create_category(conn, "010102", "尿素", 3, AT, middle)
    return url


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url) as connection:
        yield connection


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    """A new merchant whose codes match the examples of the import templates."""
    code = f"M{next(merchant_numbers)}"
    merchant = catalogue.create_merchant(conn, code, "测试供销社", AT)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
    leaf = conn.execute("SELECT category_id FROM core.categories WHERE category_code = '010102'").fetchone()[0]
    supplier = catalogue.create_supplier(conn, merchant, "S01", "丰收化肥厂", 5, AT)
    product = catalogue.create_product(
        conn,
        merchant,
        "FERT-001",
        "复合肥 50kg",
        leaf,
        Decimal("80.00"),
        Decimal("98.00"),
        AT,
        supplier_id=supplier,
        shelf_life_days=720,
    )
    customer = catalogue.create_customer(conn, merchant, "C0001", "张三", AT)
    conn.commit()
    return Shop(code, merchant, warehouse, product, customer)


def counts(conn: psycopg.Connection, shop: Shop) -> dict[str, int]:
    found = {
        table: conn.execute(f"SELECT count(*) FROM core.{table} WHERE merchant_id = %s", [shop.merchant_id]).fetchone()[
            0
        ]
        for table in MERCHANT_TABLES
    }
    return {**found, "categories": conn.execute("SELECT count(*) FROM core.categories").fetchone()[0]}


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def run_import(conn: psycopg.Connection, shop: Shop, kind: str, path: Path, **options) -> ImportReport:
    limits = options.pop("limits", ImportLimits())
    return import_file(
        conn, kind, path, merchant_code=shop.code, at=AT, options=ImportOptions(limits=limits, **options)
    )


def rejected(conn: psycopg.Connection, shop: Shop, kind: str, path: Path, **options) -> list[str]:
    """Import a file that must be refused row by row; nothing may be written. Returns the lines."""
    before = counts(conn, shop)
    with pytest.raises(ImportRejected) as caught:
        run_import(conn, shop, kind, path, **options)
    assert counts(conn, shop) == before
    report = caught.value.report
    return [note.line(path.name) for note in report.with_status(Status.BAD)]


@contextlib.contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """The most memory Python allocated inside the block, in bytes (tracemalloc: allocations, not
    time, so the machine's load cannot move it)."""
    tracemalloc.start()
    try:
        yield lambda: peak
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def refused(conn: psycopg.Connection, shop: Shop, kind: str, path: Path, **options) -> str:
    """Import a file that must be refused as a whole; nothing may be written. Returns the message."""
    before = counts(conn, shop)
    with pytest.raises(ImportRefused) as caught:
        run_import(conn, shop, kind, path, **options)
    assert counts(conn, shop) == before
    return str(caught.value)


ORDER_HEADER = [
    "order_code",
    "customer_code",
    "customer_name",
    "ordered_at",
    "sku_code",
    "quantity",
    "unit_price",
    "amount",
]
ORDER_ROWS = [
    ["SO-1", "C0001", "", "2025-03-01 09:30", "FERT-001", "2", "98.00", "190.00"],
    ["SO-1", "C0001", "", "2025-03-01 09:30", "FERT-001", "1", "", "98.00"],
    ["", "C0102", "李四", "2025-03-02", "FERT-001", "3", "", "100.00"],
    ["SO-3", "C0103", "王五合作社", "2025/3/5 14:00", "", "", "", "1234.50"],
]


def imported_orders(conn: psycopg.Connection, shop: Shop) -> dict[str, tuple]:
    """customer code -> (external code, status, source, warehouse, ordered_at, total, line amounts)."""
    rows = conn.execute(
        """SELECT c.customer_code, o.external_order_code, o.status, o.source, o.warehouse_id, o.ordered_at,
                  o.total_amount, array_remove(array_agg(l.line_amount ORDER BY l.line_no), NULL)
           FROM core.orders o JOIN core.customers c USING (customer_id)
           LEFT JOIN core.order_lines l USING (order_id)
           WHERE o.source = 'import' AND o.merchant_id = %s GROUP BY o.order_id, c.customer_code""",
        [shop.merchant_id],
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_order_history_from_csv_in_each_encoding(conn, shop: Shop, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "history.csv", [ORDER_HEADER, *ORDER_ROWS], encoding)
    movements_before = counts(conn, shop)["stock_movements"]

    report = run_import(conn, shop, "orders", path)

    assert report.written and report.rows_read == 4
    assert report.created["orders"] == 3 and report.created["order lines"] == 3
    assert report.created["customers"] == 2 and report.created["amount-only orders"] == 1
    history = imported_orders(conn, shop)
    two_lines = history["C0001"]
    assert two_lines[:4] == ("SO-1", "completed", "import", None)
    assert two_lines[4] == datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI)
    assert two_lines[5] == Decimal("288.00") and two_lines[6] == [Decimal("190.00"), Decimal("98.00")]
    # No order_code: an order of its own; a bare date is midnight in Shanghai; 100 / 3 rounds the
    # unit price up and the line keeps the amount paid exactly.
    assert history["C0102"][0] is None and history["C0102"][4] == datetime(2025, 3, 2, tzinfo=SHANGHAI)
    assert history["C0102"][6] == [Decimal("100.00")]
    thirds = "SELECT unit_price, discount_amount FROM core.order_lines WHERE quantity = 3 AND merchant_id = %s"
    assert conn.execute(thirds, [shop.merchant_id]).fetchone() == (
        Decimal("33.34"),
        Decimal("0.02"),
    )
    assert history["C0103"][5:] == (Decimal("1234.50"), [])
    names = dict(
        conn.execute("SELECT customer_code, name FROM core.customers WHERE merchant_id = %s", [shop.merchant_id])
    )
    assert names == {"C0001": "张三", "C0102": "李四", "C0103": "王五合作社"}
    assert counts(conn, shop)["stock_movements"] == movements_before
    logged = conn.execute(
        "SELECT actor, operation, target, request FROM core.operation_log WHERE merchant_id = %s", [shop.merchant_id]
    ).fetchall()
    assert [(actor, operation, target) for actor, operation, target, _ in logged] == [
        ("import", "import.orders", "history.csv")
    ]
    assert logged[0][3]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert logged[0][3]["created"]["orders"] == 3


def test_order_history_from_xlsx_with_mapped_columns(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "export.xlsx",
        [
            ["Order No", "Customer ID", "Time", "SKU", "Qty", "Paid", "Remark"],
            ["A-100", "C0001", datetime(2025, 6, 1, 8, 0), "FERT-001", 2, 150.5, "first"],
            ["A-101", "C0002", date(2025, 6, 2), None, None, 99, None],
        ],
    )
    mapping = ("order_code=Order No", "customer_code=Customer ID", "ordered_at=time", "sku_code=SKU")
    report = run_import(conn, shop, "orders", path, column_map=(*mapping, "quantity=Qty", "amount=Paid"))

    assert report.ignored_columns == ("Remark",)
    history = imported_orders(conn, shop)
    assert history["C0001"][0] == "A-100" and history["C0001"][5] == Decimal("150.50")
    assert history["C0001"][4] == datetime(2025, 6, 1, 8, 0, tzinfo=SHANGHAI)
    assert history["C0002"][5:] == (Decimal("99.00"), [])


def test_reimporting_an_order_code_skips_it_and_never_duplicates(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "history.csv", [ORDER_HEADER, *ORDER_ROWS])
    run_import(conn, shop, "orders", path)
    after_first = counts(conn, shop)

    again = write_csv(
        tmp_path / "again.csv",
        [ORDER_HEADER, ORDER_ROWS[0], ORDER_ROWS[1], ["SO-4", "C0001", "", "2025-03-06", "", "", "", "10.00"]],
    )
    report = run_import(conn, shop, "orders", again)

    assert report.created["orders"] == 1
    present = report.with_status(Status.ALREADY_PRESENT)
    assert [note.row for note in present] == [2, 3] and "order SO-1 was imported before" in present[0].reason
    assert counts(conn, shop)["orders"] == after_first["orders"] + 1
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            """INSERT INTO core.orders (merchant_id, customer_id, status, ordered_at, completed_at, total_amount,
                   updated_at, source, external_order_code)
               VALUES (%s, %s, 'completed', %s, %s, 1, %s, 'import', 'SO-1')""",
            [shop.merchant_id, shop.customer_id, AT, AT, AT],
        )


def test_only_imported_orders_may_lack_a_warehouse(conn, shop: Shop) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="orders_warehouse_unless_imported"):
        conn.execute(
            """INSERT INTO core.orders (merchant_id, customer_id, status, ordered_at, confirmed_at, total_amount,
                   updated_at)
               VALUES (%s, %s, 'confirmed', %s, %s, 1, %s)""",
            [shop.merchant_id, shop.customer_id, AT, AT, AT],
        )


def test_unknown_skus_are_refused_unless_create_products(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "new_skus.csv",
        [
            [*ORDER_HEADER, "product_name"],
            ["SO-7", "C0001", "", "2025-01-03", "SEED-9", "1", "12.00", "12.00", "玉米种子"],
            ["SO-8", "C0001", "", "2025-02-03", "SEED-9", "2", "13.00", "26.00", ""],
            ["SO-8", "C0001", "", "2025-02-03", "FERT-001", "1", "", "98.00", ""],
        ],
    )
    lines = rejected(conn, shop, "orders", path)
    assert lines == [
        f"new_skus.csv: row {row}, column sku_code (E): SKU SEED-9 is unknown to merchant {shop.code}: import it first "
        "(coopcast import products) or pass --create-products"
        for row in (2, 3)
    ]

    report = run_import(conn, shop, "orders", path, create_products=True)

    assert report.created["products"] == 1 and report.created["orders"] == 2
    name, price, cost, category = conn.execute(
        """SELECT p.name, p.price, p.unit_cost, c.name_en
           FROM core.products p JOIN core.categories c USING (category_id)
           WHERE sku_code = 'SEED-9' AND merchant_id = %s""",
        [shop.merchant_id],
    ).fetchone()
    assert (name, price, cost) == ("玉米种子", Decimal("13.00"), Decimal("0.00"))
    assert category == "Imported / uncategorised"


def test_every_bad_row_is_reported_and_nothing_is_written(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [
            ORDER_HEADER,
            ["SO-1", "C0001", "", "2025-03-01", "FERT-001", "1", "", "98.00"],
            ["SO-2", "C0001", "", "2025-02-30", "FERT-001", "1", "", "98.00"],
            ["SO-3", "C0001", "", "2025-03-01", "FERT-001", "1", "", "12.345"],
            ["SO-4", "C0001", "", "yesterday", "FERT-001", "1", "", "abc"],
            ["SO-5", "C0001", "", "2025-03-01", "FERT-001", "1", "", "-5.00"],
            ["SO-6", '=HYPERLINK("http://x")', "", "2025-03-01", "", "", "", "1.00"],
            ["SO-7", "C0001", "", "2027-01-01", "", "", "", "@SUM(1)"],
            ["SO-8", "C0001", "", "2025-03-01", "FERT-001", "2", "10.00", "25.00"],
            ["SO-9", "C0001", "", "2025-03-01", "", "2", "", "1.00"],
            ["SO-10", "", "", "2025-03-01", "", "", "", "1.00"],
        ],
    )
    lines = rejected(conn, shop, "orders", path)
    assert lines == [
        "bad.csv: row 3, column ordered_at (D): is not a real date or time: '2025-02-30'",
        "bad.csv: row 4, column amount (H): has more than two decimals: '12.345'",
        "bad.csv: row 5, column ordered_at (D): is 'yesterday', expected a date like 2026-03-01 or 2026-03-01 14:30",
        "bad.csv: row 5, column amount (H): is 'abc', expected an amount like 1234.50 "
        "(no currency sign or thousands separator)",
        "bad.csv: row 6, column amount (H): must not be negative: '-5.00'",
        "bad.csv: row 7, column customer_code (B): starts with '=' like a formula; formulas are not imported, "
        "enter the value itself: '=HYPERLINK(\"http://x\")'",
        "bad.csv: row 8, column amount (H): starts with '@' like a formula; formulas are not imported, "
        "enter the value itself: '@SUM(1)'",
        "bad.csv: row 8, column ordered_at (D): is 2027-01-01 00:00 +0800, later than the import itself",
        "bad.csv: row 9, column amount (H): is 25.00, more than quantity × unit_price = 2 × 10.00 = 20.00; "
        "amount is what was paid after discounts",
        "bad.csv: row 10, column quantity (F): needs a sku_code: a row without sku_code is amount-only history",
        "bad.csv: row 11, column customer_code (B): is empty; it is required",
    ]


def test_values_beyond_a_co_ops_trade_are_refused(conn, shop: Shop, tmp_path: Path) -> None:
    """Past them the nightly pipeline's quantity × price would overflow for every merchant."""
    orders = write_csv(
        tmp_path / "huge.csv",
        [
            ORDER_HEADER,
            ["SO-1", "C0001", "", "2025-03-01", "FERT-001", "10000000", "", "98.00"],
            ["SO-2", "C0001", "", "2025-03-01", "FERT-001", "2", "999999999999.99", "98.00"],
            ["SO-3", "C0001", "", "2025-03-01", "FERT-001", "1000", "1000000.00", "999999999.99"],
            ["SO-3", "C0001", "", "2025-03-01", "FERT-001", "1", "", "98.00"],
        ],
    )
    assert rejected(conn, shop, "orders", orders) == [
        "huge.csv: row 2, column quantity (F): is too large: '10000000' is above 1,000,000",
        "huge.csv: row 3, column unit_price (G): is too large: '999999999999.99' is above 1000000.00",
        "huge.csv: row 5, column amount (H): brings order SO-3 to 1000000097.99 CNY, "
        "above the 1000000000.00 an order may reach",
    ]
    stock = write_csv(
        tmp_path / "huge_stock.csv",
        [["sku_code", "warehouse_code", "quantity", "unit_cost"], ["FERT-001", "WH01", "10000000", "999999999999.99"]],
    )
    assert rejected(conn, shop, "stock", stock) == [
        "huge_stock.csv: row 2, column quantity (C): is too large: '10000000' is above 1,000,000",
        "huge_stock.csv: row 2, column unit_cost (D): is too large: '999999999999.99' is above 1000000.00",
    ]


def test_rows_of_one_order_must_agree(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "conflicts.csv",
        [
            ORDER_HEADER,
            ["SO-1", "C0001", "", "2025-03-01 09:00", "FERT-001", "1", "", "98.00"],
            ["SO-1", "C0002", "", "2025-03-01 09:00", "FERT-001", "1", "", "98.00"],
            ["SO-1", "C0001", "", "2025-03-01 10:00", "FERT-001", "1", "", "98.00"],
            ["SO-2", "C0001", "", "2025-03-01", "", "", "", "50.00"],
            ["SO-2", "C0001", "", "2025-03-01", "FERT-001", "1", "", "98.00"],
        ],
    )
    assert rejected(conn, shop, "orders", path) == [
        "conflicts.csv: row 3, column customer_code (B): order SO-1 has customer C0001 on row 2, here C0002",
        "conflicts.csv: row 4, column ordered_at (D): order SO-1 was placed at 2025-03-01 09:00 on row 2, "
        "here 2025-03-01 10:00",
        "conflicts.csv: row 6, column sku_code (E): order SO-2 is amount-only history on row 5; "
        "give that row a sku_code or this line another order_code",
    ]


def test_skip_bad_rows_imports_whole_good_orders_only(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        [
            ORDER_HEADER,
            ["SO-1", "C0001", "", "2025-03-01", "FERT-001", "1", "", "98.00"],
            ["SO-1", "C0001", "", "2025-03-01", "FERT-001", "1", "", "9.999"],
            ["SO-2", "C0001", "", "2025-03-02", "FERT-001", "1", "", "98.00"],
            ["SO-3", "C0001", "", "2025-03-03", "NOPE", "1", "", "5.00"],
        ],
    )
    report = run_import(conn, shop, "orders", path, skip_bad_rows=True)

    assert report.written and report.created["orders"] == 1
    assert set(imported_orders(conn, shop)) == {"C0001"} and imported_orders(conn, shop)["C0001"][0] == "SO-2"
    assert report.rows_with(Status.BAD) == {3, 5}
    (left_out,) = report.with_status(Status.NOT_IMPORTED)
    assert (left_out.row, left_out.reason) == (2, "order SO-1 is left out: row 3 is bad")


def test_products_from_xlsx_and_csv(conn, shop: Shop, tmp_path: Path) -> None:
    header = [
        "sku_code",
        "name",
        "category_code",
        "unit_cost",
        "price",
        "spec",
        "supplier_code",
        "shelf_life_days",
        "brand",
    ]
    workbook = write_xlsx(
        tmp_path / "products.xlsx",
        [
            header,
            ["UREA-1", "尿素 40kg", "010102", 60, 75.5, "40kg/袋", "S01", 720, "沃野"],
            ["FERT-001", "x", "010101", 1, 2],
        ],
    )
    report = run_import(conn, shop, "products", workbook)
    assert report.created["products"] == 1
    assert [note.reason for note in report.with_status(Status.ALREADY_PRESENT)] == [
        "SKU FERT-001 already exists; skipped, not changed"
    ]
    text = write_csv(
        tmp_path / "products.csv",
        [header, ["SEED-1", "玉米种子", "010101", "30.00", "42.00", "", "", "", ""]],
        "gb18030",
    )
    run_import(conn, shop, "products", text)
    products = conn.execute(
        """SELECT p.sku_code, p.name, c.category_code, p.unit_cost, p.price, p.spec, p.lead_time_days,
                  p.shelf_life_days, p.unit, p.brand
           FROM core.products p JOIN core.categories c USING (category_id)
           WHERE sku_code <> 'FERT-001' AND merchant_id = %s ORDER BY sku_code""",
        [shop.merchant_id],
    ).fetchall()
    assert products == [
        ("SEED-1", "玉米种子", "010101", Decimal("30.00"), Decimal("42.00"), None, 7, None, "件", None),
        ("UREA-1", "尿素 40kg", "010102", Decimal("60.00"), Decimal("75.50"), "40kg/袋", 5, 720, "件", "沃野"),
    ]


def test_duplicate_keys_and_unknown_codes_in_products(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dupes.csv",
        [
            ["sku_code", "name", "category_code", "unit_cost", "price", "supplier_code"],
            ["A-1", "甲", "010101", "1.00", "2.00", ""],
            ["B-1", "乙", "01", "1.00", "2.00", ""],
            ["A-1", "甲二", "010101", "1.00", "2.00", "S99"],
        ],
    )
    assert rejected(conn, shop, "products", path) == [
        "dupes.csv: row 2, column sku_code (A): SKU A-1 appears on rows 2, 4; each SKU once per file",
        "dupes.csv: row 3, column category_code (C): category 01 is a level-1 category; "
        "products belong in level-3 categories",
        "dupes.csv: row 4, column sku_code (A): SKU A-1 appears on rows 2, 4; each SKU once per file",
        f"dupes.csv: row 4, column supplier_code (F): supplier S99 is unknown to merchant {shop.code}",
    ]


def test_a_row_is_reported_with_all_its_problems(conn, shop: Shop, tmp_path: Path) -> None:
    """A cell that does not parse must not hide the row's unknown codes until the next attempt."""
    products = write_csv(
        tmp_path / "products.csv",
        [
            ["sku_code", "name", "category_code", "unit_cost", "price", "supplier_code"],
            ["C-1", "丙", "019999", "abc", "2.00", "S99"],
        ],
    )
    assert rejected(conn, shop, "products", products) == [
        "products.csv: row 2, column unit_cost (D): is 'abc', expected an amount like 1234.50 "
        "(no currency sign or thousands separator)",
        "products.csv: row 2, column category_code (C): category 019999 does not exist",
        f"products.csv: row 2, column supplier_code (F): supplier S99 is unknown to merchant {shop.code}",
    ]
    orders = write_csv(
        tmp_path / "orders.csv",
        [ORDER_HEADER, ["SO-1", "C0001", "", "2025-03-01", "NOPE", "1", "", "abc"]],
    )
    assert rejected(conn, shop, "orders", orders) == [
        "orders.csv: row 2, column amount (H): is 'abc', expected an amount like 1234.50 "
        "(no currency sign or thousands separator)",
        f"orders.csv: row 2, column sku_code (E): SKU NOPE is unknown to merchant {shop.code}: import it first "
        "(coopcast import products) or pass --create-products",
    ]


def test_a_bad_row_is_not_also_reported_as_already_present(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "products.csv",
        [
            ["sku_code", "name", "category_code", "unit_cost", "price"],
            ["FERT-001", "复合肥", "010102", "abc", "98.00"],
            ["UREA-1", "尿素", "010102", "60.00", "75.00"],
        ],
    )
    report = run_import(conn, shop, "products", path, skip_bad_rows=True)

    assert report.created["products"] == 1
    assert report.rows_with(Status.BAD) == {2} and not report.rows_with(Status.ALREADY_PRESENT)


def test_stock_is_received_batch_by_batch(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "stock.csv",
        [
            ["sku_code", "warehouse_code", "quantity", "lot_code", "expiry_date", "unit_cost", "received_at"],
            ["FERT-001", "WH01", "40", "L1", "2027-03-01", "79.50", "2026-02-01 08:00"],
            ["FERT-001", "WH01", "5", "", "", "", ""],
        ],
    )
    report = run_import(conn, shop, "stock", path)
    assert (report.created["batches"], report.created["units"]) == (2, 45)
    batches = conn.execute(
        """SELECT b.lot_code LIKE 'L1', b.expiry_date, b.unit_cost, s.on_hand,
                  (SELECT sum(on_hand_delta) FROM core.stock_movements m WHERE m.batch_id = b.batch_id)
           FROM core.batches b JOIN core.stock s USING (batch_id) WHERE b.merchant_id = %s ORDER BY b.batch_id""",
        [shop.merchant_id],
    ).fetchall()
    assert batches == [
        (True, date(2027, 3, 1), Decimal("79.50"), 40, 40),
        (False, date(2028, 2, 20), Decimal("80.00"), 5, 5),  # defaults: shelf life from AT's date, product cost
    ]
    again = run_import(
        conn,
        shop,
        "stock",
        write_csv(
            tmp_path / "again.csv",
            [["sku_code", "warehouse_code", "quantity", "lot_code"], ["FERT-001", "WH01", "40", "L1"]],
        ),
    )
    assert [note.reason for note in again.with_status(Status.ALREADY_PRESENT)] == [
        "lot L1 of SKU FERT-001 is already in stock; skipped"
    ]
    unknown = write_csv(tmp_path / "unknown.csv", [["sku_code", "warehouse_code", "quantity"], ["NOPE", "WH99", "0"]])
    assert rejected(conn, shop, "stock", unknown) == [
        "unknown.csv: row 2, column quantity (C): must be at least 1",
        f"unknown.csv: row 2, column sku_code (A): SKU NOPE is unknown to merchant {shop.code}",
        f"unknown.csv: row 2, column warehouse_code (B): warehouse WH99 is unknown to merchant {shop.code}",
    ]
    # Expired before it arrived: a swapped or mistyped date, not stock to receive.
    stale = write_csv(
        tmp_path / "stale.csv",
        [
            ["sku_code", "warehouse_code", "quantity", "lot_code", "expiry_date", "received_at"],
            ["FERT-001", "WH01", "5", "L4", "2025-01-01", "2026-02-01 08:00"],
            ["FERT-001", "WH01", "5", "L5", "2026-02-01", "2026-02-01 08:00"],
        ],
    )
    assert rejected(conn, shop, "stock", stale) == [
        "stale.csv: row 2, column expiry_date (E): is 2025-01-01, before the batch was received on 2026-02-01",
    ]


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= character <= "\u9fff" for character in text)


def test_templates_import_as_they_are(conn, shop: Shop, tmp_path: Path) -> None:
    for kind in ("products", "stock", "orders"):
        path = write_template(kind, tmp_path / f"{kind}.xlsx")
        workbook = openpyxl.load_workbook(path)
        assert workbook.sheetnames == [kind, "notes"]
        # Every column is explained in Chinese first, then in English.
        header = [cell.value for cell in workbook[kind][1]]
        explained = {row[0]: row[2:4] for row in workbook["notes"].iter_rows(min_row=2, values_only=True) if row[1]}
        assert list(explained) == header
        assert all(has_chinese(chinese) and chinese != english for chinese, english in explained.values())
        report = run_import(conn, shop, kind, path)
        assert report.rows_read == 1 and report.written
    assert counts(conn, shop)["batches"] == 1
    assert imported_orders(conn, shop)["C0001"][0] == "SO-2025-0001"


def test_import_works_under_row_security_as_the_application_role(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "history.csv", [ORDER_HEADER, *ORDER_ROWS])
    # As an authenticated API caller would: the role subject to row security, its merchant named.
    conn.execute("SET ROLE coopcast_app")
    conn.execute("SELECT set_config('coopcast.merchant_id', %s, false)", [str(shop.merchant_id)])
    report = run_import(conn, shop, "orders", path, create_products=True)
    conn.execute("RESET ROLE")
    assert report.created["orders"] == 3
    assert counts(conn, shop)["orders"] == 3


# --- hostile files -----------------------------------------------------------------------------


def test_zip_bomb_is_refused_by_its_compression_ratio(conn, shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 1024 * 1024))
    with peak_memory() as peak:
        message = refused(conn, shop, "orders", path)
    assert "bomb.xlsx: part xl/worksheets/sheet1.xml expands" in message and "zip bomb" in message
    # Refused while inflating its first megabytes, not after the 64 MiB.
    assert peak() < 16 * 1024 * 1024


def test_zip_bomb_is_refused_by_its_declared_size(conn, shop: Shop, tmp_path: Path) -> None:
    """A directory that declares 4 GiB is refused before anything is decompressed."""
    path = write_xlsx(tmp_path / "forged.xlsx", [["customer_code", "ordered_at", "amount"]])
    data = bytearray(path.read_bytes())
    directory = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, directory + 24, 0xFFFFFFF0)  # uncompressed size of the first entry
    path.write_bytes(bytes(data))
    message = refused(conn, shop, "orders", path)
    assert "forged.xlsx: the workbook declares" in message and "possible zip bomb" in message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>"""


def billion_laughs_workbook(tmp_path: Path) -> Path:
    clean = write_xlsx(tmp_path / "clean.xlsx", [["customer_code", "ordered_at", "amount"]])
    path = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(clean) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            payload = source.read(entry)
            target.writestr(entry, BILLION_LAUGHS if entry.filename == "xl/worksheets/sheet1.xml" else payload)
    return path


def test_billion_laughs_is_refused_before_parsing(conn, shop: Shop, tmp_path: Path) -> None:
    message = refused(conn, shop, "orders", billion_laughs_workbook(tmp_path))
    assert message == (
        "laughs.xlsx: part xl/worksheets/sheet1.xml declares a DOCTYPE or XML entities "
        "(refused as a possible entity-expansion attack)"
    )


def test_openpyxl_parses_through_defusedxml(tmp_path: Path) -> None:
    """The second line of defence: even without the scan, the workbook parser refuses entities."""
    from defusedxml import EntitiesForbidden

    assert openpyxl.DEFUSEDXML
    with pytest.raises(ValueError, match="could not read worksheets") as caught:
        openpyxl.load_workbook(billion_laughs_workbook(tmp_path), read_only=True)
    assert isinstance(caught.value.__cause__ or caught.value.__context__, EntitiesForbidden)


def test_a_million_rows_are_refused_quickly(conn, shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "million.csv"
    path.write_text("customer_code,ordered_at,amount\n" + "C0001,2025-03-01,1.00\n" * 1_000_000)
    with peak_memory() as peak:
        assert refused(conn, shop, "orders", path) == "million.csv: more than 500,000 data rows; split the file"
    # Counted as a stream: the 22 MB file is never held, nor its rows parsed into objects.
    assert peak() < path.stat().st_size / 2


def test_too_many_rows_in_a_workbook_are_refused_before_parsing(conn, shop: Shop, tmp_path: Path) -> None:
    rows = [["customer_code", "ordered_at", "amount"]] + [["C0001", "2025-03-01", 1]] * 1_001
    path = write_xlsx(tmp_path / "long.xlsx", rows)
    message = refused(conn, shop, "orders", path, limits=ImportLimits(max_rows=1_000))
    assert message == "long.xlsx: more than 1,000 data rows in part xl/worksheets/sheet1.xml; split the file"


def test_oversized_and_overwide_files_are_refused(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", [["customer_code", "ordered_at", "amount"], ["C0001", "2025-03-01", "1.00"]])
    assert refused(conn, shop, "orders", path, limits=ImportLimits(max_file_bytes=20)) == (
        "big.csv: 0.0 MiB is over the import limit of 0 MiB"
    )
    wide = write_csv(tmp_path / "wide.csv", [["customer_code", "ordered_at", "amount", *map(str, range(100))]])
    assert refused(conn, shop, "orders", wide) == "wide.csv: row 1 has 103 columns; at most 64 are read"


def test_formula_cells_in_a_workbook_are_refused(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "formulas.xlsx",
        [["customer_code", "ordered_at", "amount"], ["C0001", "2025-03-01", "=1+1"], ["C0001", "2025-03-01", -3]],
    )
    assert rejected(conn, shop, "orders", path) == [
        "formulas.xlsx: row 2, column amount (C): starts with '=' like a formula; formulas are not imported, "
        "enter the value itself: '=1+1'",
        "formulas.xlsx: row 3, column amount (C): must not be negative: '-3'",
    ]


def test_rows_are_numbered_as_a_spreadsheet_shows_them(conn, shop: Shop, tmp_path: Path) -> None:
    """A quoted cell spanning two lines is still one row; blank rows keep their number."""
    path = write_csv(
        tmp_path / "lines.csv",
        [
            ["customer_code", "customer_name", "ordered_at", "amount"],
            ["C0101", "王五\n李庄", "2025-03-01", "1.00"],
            [],
            ["C0102", "", "2025-03-01", "x"],
        ],
    )
    assert rejected(conn, shop, "orders", path) == [
        "lines.csv: row 4, column amount (D): is 'x', expected an amount like 1234.50 "
        "(no currency sign or thousands separator)"
    ]


def test_files_that_are_not_what_they_claim_are_refused(conn, shop: Shop, tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("customer_code,ordered_at,amount\n", encoding="utf-16")
    assert refused(conn, shop, "orders", utf16) == "utf16.csv: UTF-16 text; save the CSV as UTF-8"
    old_excel = tmp_path / "old.xlsx"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    assert "old.xlsx: an old-format (.xls) or password-protected workbook" in refused(conn, shop, "orders", old_excel)
    header_only = write_csv(tmp_path / "empty.csv", [["customer_code", "ordered_at", "amount"]])
    assert refused(conn, shop, "orders", header_only) == "empty.csv: no data rows below the header"


def test_header_problems_are_refused_by_name(conn, shop: Shop, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "header.csv", [["Customer ID", "ordered_at", "amount"], ["C1", "2025-03-01", "1"]])
    assert "header.csv: row 1 lacks the required column(s) customer_code" in refused(conn, shop, "orders", path)
    message = refused(conn, shop, "orders", path, column_map=("customer_code=Client",))
    assert message == "header.csv: --map customer_code=Client: row 1 has no column 'Client'"


# --- end to end through the command line -------------------------------------------------------


def test_cli_imports_and_refuses_with_a_one_line_reason(shop: Shop, database_url: str, tmp_path: Path) -> None:
    pipeline = PipelineRun(home=tmp_path / "home", database_url=database_url)
    good = write_csv(
        tmp_path / "history.csv",
        [["Customer ID", "ordered_at", "amount"], ["C0001", "2025-03-01", "10.00"], ["C0009", "2025-03-02", "5.50"]],
    )
    result = run_cli(
        pipeline, "import", "orders", str(good), "--merchant", shop.code, "--map", "customer_code=Customer ID"
    )
    assert f"Imported orders for merchant {shop.code}" in result.stdout and "2 orders" in result.stdout

    bad = write_csv(
        tmp_path / "bad.csv",
        [["customer_code", "ordered_at", "amount"]] + [["C0001", "2025-03-01", f"{n}.001"] for n in range(30)],
    )
    result = run_cli(pipeline, "import", "orders", str(bad), "--merchant", shop.code, check=False)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert (
        "bad.csv: 30 bad rows of 30 (30 problems); nothing was imported. First: row 2, column amount (C)"
        in (error_lines[0])
    )
    assert "bad.csv: row 2, column amount (C): has more than two decimals: '0.001'" in result.stderr
    (report,) = (pipeline.home / "imports").glob(f"*_{shop.code}_orders_bad.csv")
    with report.open(encoding="utf-8-sig") as handle:
        assert len(list(csv.DictReader(handle))) == 30
    with psycopg.connect(database_url) as check:
        assert counts(check, shop)["orders"] == 2

    unknown = run_cli(
        pipeline, "import", "orders", str(good), "--merchant", "M404", "--map", "customer_code=Customer ID", check=False
    )
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: merchant M404 does not exist; register it first with `coopcast merchant create M404 NAME`"
    )


def test_two_hundred_thousand_order_rows_import_in_one_go(conn, shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_HEADER)
        for n in range(200_000):
            order = n // 2
            writer.writerow(
                [
                    f"O{order}",
                    f"C{order % 5000}",
                    "",
                    f"2025-{1 + order % 12:02d}-01 10:00",
                    "FERT-001",
                    1 + n % 3,
                    "",
                    f"{10 + n % 50}.50",
                ]
            )
    report = run_import(conn, shop, "orders", path)
    assert report.created["order lines"] == 200_000 and report.created["orders"] == 100_000
