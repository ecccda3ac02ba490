"""Order history from another system (`coopcast import orders`).

Each row is an order line; rows sharing an order_code form one order, a row without one is an
order of its own. A row without sku_code is amount-only history: an order with no lines.

How a line's numbers relate: `amount` is what the customer paid for the line, after discounts,
and becomes the line's line_amount exactly. quantity defaults to 1; unit_price defaults to
amount ÷ quantity rounded up to the cent; discount_amount = quantity × unit_price − amount, so
line_amount = quantity × unit_price − discount_amount = amount. An amount above quantity ×
unit_price (a surcharge) is refused. The order's total_amount is the sum of its rows' amounts.

Imported orders are history: status 'completed' at ordered_at, no warehouse, no reservation, no
stock movement, source 'import', and the other system's order_code kept as external_order_code
(unique per merchant, so an order already imported is skipped, never duplicated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from transactional.imports import values as parse
from transactional.imports.categories import imported_leaf_category
from transactional.imports.columns import CellNote, Column
from transactional.imports.loading import KindImporter
from transactional.imports.report import Status
from transactional.limits import MAX_ORDER_AMOUNT

CENT = Decimal("0.01")
PLACEHOLDER_LEAD_TIME_DAYS = 7


@dataclass
class OrderGroup:
    """What the rows of one order_code seen so far agree on."""

    first_row: int
    customer_code: str | None = None
    customer_row: int = 0
    ordered_at: datetime | None = None
    ordered_at_row: int = 0
    line_rows: list[int] = field(default_factory=list)
    amount_only_row: int | None = None
    total_amount: Decimal = Decimal(0)


class OrderHistoryImporter(KindImporter):
    kind = "orders"
    columns = (
        Column(
            "order_code",
            parse.code,
            False,
            "The other system's order number; rows sharing it are one order",
            "原系统的订单号；订单号相同的行属于同一订单",
            "SO-2025-0001",
        ),
        Column(
            "customer_code",
            parse.code,
            True,
            "The customer's code; unknown customers are created",
            "客户编码；未知客户将自动创建",
            "C0001",
        ),
        Column(
            "customer_name",
            parse.text,
            False,
            "Name for a customer created by the import (default: the code)",
            "导入时新建客户的名称（默认：客户编码）",
            "张三",
        ),
        Column(
            "ordered_at",
            parse.timestamp,
            True,
            "Date or date and time; without a zone it is Asia/Shanghai time",
            "日期或日期时间；未注明时区时按北京时间",
            datetime(2025, 3, 1, 9, 30),
        ),
        Column(
            "sku_code",
            parse.code,
            False,
            "The SKU sold; empty for amount-only history (an order with no lines)",
            "所售商品编码；只有金额的历史订单（无明细行）留空",
            "FERT-001",
        ),
        Column(
            "product_name",
            parse.text,
            False,
            "Name for a SKU created by --create-products (default: the code)",
            "--create-products 新建商品时的名称（默认：商品编码）",
            "复合肥 50kg",
        ),
        Column(
            "quantity",
            parse.quantity,
            False,
            "Units sold (default 1); needs sku_code",
            "销售数量（默认 1）；需填写 sku_code",
            2,
        ),
        Column(
            "unit_price",
            parse.unit_price,
            False,
            "List price per unit in CNY (default: amount ÷ quantity); needs sku_code",
            "单位标价，元（默认：金额 ÷ 数量）；需填写 sku_code",
            Decimal("98.00"),
        ),
        Column(
            "amount",
            parse.money,
            True,
            "CNY paid for this line after discounts (two decimals); for an amount-only row, the order's amount",
            "该行折后实付金额，元（两位小数）；只有金额的行填整单金额",
            Decimal("190.00"),
        ),
    )
    template_notes = (
        (
            "每行是一条订单明细；order_code 相同的行是同一订单，没有 order_code 的行自成一单。",
            "Each row is an order line; rows with the same order_code are one order, a row without one is an order.",
        ),
        (
            "没有 sku_code 的行是只有金额的历史订单（无明细）；它必须是该订单唯一的一行。",
            "A row without sku_code is amount-only history: an order with no lines; it must be its order's only row.",
        ),
        (
            "amount 是该行折后实付金额；quantity 默认为 1，unit_price 默认为 amount/quantity。",
            "amount is what the line cost after discounts; quantity defaults to 1, unit_price to amount/quantity.",
        ),
        (
            "未知客户会自动创建；未知商品会被拒绝，除非用 --create-products 新建。",
            "Unknown customers are created; unknown SKUs are refused unless --create-products registers them.",
        ),
        (
            "已导入过的 order_code 会被跳过，不会重复；没有 order_code 的行无法识别是否导入过。",
            "An order_code imported before is skipped, never duplicated; rows without order_code cannot be recognised.",
        ),
        (
            "导入的订单是已完成的历史：不占用也不扣减库存。",
            "Imported orders are completed history: they do not reserve or move stock.",
        ),
    )
    staging_table = "import_order_rows"
    staging_columns = (
        "row_no integer",
        "order_group integer",
        "order_code text",
        "customer_code text",
        "customer_name text",
        "ordered_at timestamptz",
        "amount numeric(14, 2)",
        "sku_code text",
        "product_name text",
        "quantity integer",
        "unit_price numeric(14, 2)",
        "discount_amount numeric(14, 2)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups: dict[str, OrderGroup] = {}

    # --- rows, as the file streams ------------------------------------------------------------

    def stage(self, row: int, values: dict[str, Any], notes: list[CellNote]) -> tuple:
        order_code = values["order_code"]
        group = self.groups.setdefault(order_code, OrderGroup(row)) if order_code else None
        if values["ordered_at"] is not None and values["ordered_at"] > self.at:
            self.bad(row, "ordered_at", f"is {values['ordered_at']:%Y-%m-%d %H:%M %z}, later than the import itself")
        # A line's numbers are worked out only from cells that all parsed.
        line = self._line_numbers(row, values) if not notes else None
        if group is not None:
            self._agrees_with_order(row, order_code, group, values)
            self._within_order_limit(row, order_code, group, values["amount"])
        quantity, unit_price, discount = line or (None, None, None)
        return (
            row,
            group.first_row if group else row,
            order_code,
            values["customer_code"],
            values["customer_name"],
            values["ordered_at"],
            values["amount"],
            values["sku_code"],
            values["product_name"],
            quantity,
            unit_price,
            discount,
        )

    def _line_numbers(self, row: int, values: dict[str, Any]) -> tuple | None:
        """(quantity, unit_price, discount_amount) of a line, (None, None, None) for amount-only."""
        amount: Decimal = values["amount"]
        if values["sku_code"] is None:
            stray = [column for column in ("quantity", "unit_price") if values[column] is not None]
            for column in stray:
                self.bad(row, column, "needs a sku_code: a row without sku_code is amount-only history")
            return None if stray else (None, None, None)
        quantity = values["quantity"] if values["quantity"] is not None else 1
        if quantity < 1:
            self.bad(row, "quantity", "must be at least 1")
            return None
        unit_price = values["unit_price"]
        if unit_price is None:
            unit_price = (amount / quantity).quantize(CENT, rounding=ROUND_CEILING)
        gross = quantity * unit_price
        if amount > gross:
            self.bad(
                row,
                "amount",
                f"is {amount}, more than quantity × unit_price = {quantity} × {unit_price} = {gross}; "
                "amount is what was paid after discounts",
            )
            return None
        return quantity, unit_price, gross - amount

    def _within_order_limit(self, row: int, order_code: str, group: OrderGroup, amount: Decimal | None) -> None:
        if amount is None:
            return
        before = group.total_amount
        group.total_amount += amount
        if before <= MAX_ORDER_AMOUNT < group.total_amount:
            self.bad(
                row,
                "amount",
                f"brings order {order_code} to {group.total_amount} CNY, "
                f"above the {MAX_ORDER_AMOUNT} an order may reach",
            )

    def _agrees_with_order(self, row: int, order_code: str, group: OrderGroup, values: dict[str, Any]) -> None:
        """Rows of one order must name one customer and one time, and an amount-only row stands alone."""
        customer, ordered_at = values["customer_code"], values["ordered_at"]
        if customer is not None:
            if group.customer_code is None:
                group.customer_code, group.customer_row = customer, row
            elif customer != group.customer_code:
                self.bad(
                    row,
                    "customer_code",
                    f"order {order_code} has customer {group.customer_code} on row {group.customer_row}, "
                    f"here {customer}",
                )
        if ordered_at is not None:
            if group.ordered_at is None:
                group.ordered_at, group.ordered_at_row = ordered_at, row
            elif ordered_at != group.ordered_at:
                self.bad(
                    row,
                    "ordered_at",
                    f"order {order_code} was placed at {group.ordered_at:%Y-%m-%d %H:%M} on row "
                    f"{group.ordered_at_row}, here {ordered_at:%Y-%m-%d %H:%M}",
                )
        if values["sku_code"] is None:
            if group.amount_only_row is not None or group.line_rows:
                earlier = group.amount_only_row or group.line_rows[0]
                self.bad(
                    row,
                    "sku_code",
                    f"is empty, but order {order_code} already has row {earlier}; "
                    "an amount-only row (no sku_code) must be its order's only row",
                )
            else:
                group.amount_only_row = row
        elif group.amount_only_row is not None:
            self.bad(
                row,
                "sku_code",
                f"order {order_code} is amount-only history on row {group.amount_only_row}; "
                "give that row a sku_code or this line another order_code",
            )
        else:
            group.line_rows.append(row)

    # --- the whole file -----------------------------------------------------------------------

    def after_staging(self) -> None:
        for column in ("order_group", "order_code", "sku_code"):
            self.conn.execute(f"CREATE INDEX ON {self.staging_table} ({column})")
        super().after_staging()

    def check(self) -> None:
        if not self.options.create_products:
            self._refuse_unknown_skus()
        self._leave_out_bad_orders()
        self._skip_orders_already_imported()

    def _refuse_unknown_skus(self) -> None:
        unknown = self.conn.execute(
            f"""WITH unknown AS (
                    SELECT DISTINCT sku_code FROM {self.staging_table} WHERE sku_code IS NOT NULL
                    EXCEPT SELECT sku_code FROM core.products WHERE merchant_id = %s)
                SELECT s.row_no, s.sku_code
                FROM {self.staging_table} s JOIN unknown USING (sku_code) ORDER BY s.row_no""",
            [self.merchant_id],
        ).fetchall()
        for row, sku_code in unknown:
            self.bad(
                row,
                "sku_code",
                f"SKU {sku_code} is unknown to merchant {self.report.merchant_code}: import it first "
                "(coopcast import products) or pass --create-products",
            )

    def _leave_out_bad_orders(self) -> None:
        """An order is imported whole or not at all: one bad row leaves out every row of its order."""
        bad_rows = self.report.rows_with(Status.BAD)
        if not bad_rows:
            return
        first_bad = self.conn.execute(
            f"""SELECT order_group, min(order_code), min(row_no) FROM {self.staging_table}
                WHERE row_no = ANY(%s) GROUP BY order_group""",
            [sorted(bad_rows)],
        ).fetchall()
        left_out = self.conn.execute(
            f"DELETE FROM {self.staging_table} WHERE order_group = ANY(%s) RETURNING row_no, order_group",
            [[order_group for order_group, *_ in first_bad]],
        ).fetchall()
        if not self.options.skip_bad_rows:
            return
        orders = {order_group: (code, row) for order_group, code, row in first_bad}
        for row, order_group in left_out:
            if row not in bad_rows:
                code, bad_row = orders[order_group]
                self.report.add(row, None, Status.NOT_IMPORTED, f"order {code} is left out: row {bad_row} is bad")

    def _skip_orders_already_imported(self) -> None:
        present = self.conn.execute(
            f"""DELETE FROM {self.staging_table} s USING core.orders o
                WHERE o.merchant_id = %s AND o.external_order_code = s.order_code
                RETURNING s.row_no, s.order_code, o.order_no""",
            [self.merchant_id],
        ).fetchall()
        for row, order_code, order_no in present:
            self.report.add(
                row, None, Status.ALREADY_PRESENT, f"order {order_code} was imported before (as {order_no}); skipped"
            )

    # --- writing --------------------------------------------------------------------------------

    def load(self) -> None:
        parameters = {"merchant_id": self.merchant_id, "at": self.at}
        if self.options.create_products:
            self._create_unknown_products(parameters)
        self.report.created["customers"] = self.conn.execute(CREATE_CUSTOMERS, parameters).rowcount
        self.conn.execute(GROUP_ORDERS)
        self.report.created["orders"] = self.conn.execute(INSERT_ORDERS, parameters).rowcount
        lines = self.conn.execute(INSERT_ORDER_LINES, parameters).rowcount
        self.report.created["order lines"] = lines
        staged_lines, amount_only = self.conn.execute(
            f"""SELECT count(*) FILTER (WHERE sku_code IS NOT NULL),
                       count(*) FILTER (WHERE sku_code IS NULL) FROM {self.staging_table}"""
        ).fetchone()
        # Every staged line must have found its SKU; anything else is a defect, not a bad row.
        assert lines == staged_lines, f"{staged_lines} lines staged but {lines} written"
        self.report.created["amount-only orders"] = amount_only

    def _create_unknown_products(self, parameters: dict[str, Any]) -> None:
        unknown = self.conn.execute(
            f"""SELECT EXISTS (SELECT sku_code FROM {self.staging_table} WHERE sku_code IS NOT NULL
                               EXCEPT SELECT sku_code FROM core.products WHERE merchant_id = %s)""",
            [self.merchant_id],
        ).fetchone()[0]
        if not unknown:
            return
        category_id = imported_leaf_category(self.conn, self.at)
        self.report.created["products"] = self.conn.execute(
            CREATE_PLACEHOLDER_PRODUCTS,
            {**parameters, "category_id": category_id, "lead_time_days": PLACEHOLDER_LEAD_TIME_DAYS},
        ).rowcount


# Products registered by --create-products: price is the latest unit price seen in the file; the
# cost is unknown, hence 0.00 until the merchant records it.
CREATE_PLACEHOLDER_PRODUCTS = """
INSERT INTO core.products (merchant_id, sku_code, name, category_id, unit_cost, price, lead_time_days,
                           created_at, updated_at)
SELECT %(merchant_id)s, s.sku_code,
       COALESCE((array_agg(s.product_name ORDER BY s.row_no) FILTER (WHERE s.product_name IS NOT NULL))[1],
                s.sku_code),
       %(category_id)s, 0, (array_agg(s.unit_price ORDER BY s.ordered_at DESC, s.row_no DESC))[1],
       %(lead_time_days)s, %(at)s, %(at)s
FROM import_order_rows s
WHERE s.sku_code IS NOT NULL
  AND NOT EXISTS (SELECT FROM core.products p WHERE p.merchant_id = %(merchant_id)s AND p.sku_code = s.sku_code)
GROUP BY s.sku_code
"""

# A customer created by the import has been one since its first imported order.
CREATE_CUSTOMERS = """
INSERT INTO core.customers (merchant_id, customer_code, name, created_at, updated_at)
SELECT %(merchant_id)s, s.customer_code,
       COALESCE((array_agg(s.customer_name ORDER BY s.row_no) FILTER (WHERE s.customer_name IS NOT NULL))[1],
                s.customer_code),
       min(s.ordered_at), %(at)s
FROM import_order_rows s
WHERE NOT EXISTS (SELECT FROM core.customers c
                  WHERE c.merchant_id = %(merchant_id)s AND c.customer_code = s.customer_code)
GROUP BY s.customer_code
"""

# Order ids are drawn from the table's own identity sequence here, so each staged row knows its
# order without a round-trip per order.
GROUP_ORDERS = """
DROP TABLE IF EXISTS import_orders;
CREATE TEMP TABLE import_orders ON COMMIT DROP AS
SELECT g.*, nextval(pg_get_serial_sequence('core.orders', 'order_id')) AS order_id
FROM (SELECT order_group, min(order_code) AS order_code, min(customer_code) AS customer_code,
             min(ordered_at) AS ordered_at, sum(amount) AS total_amount
      FROM import_order_rows GROUP BY order_group) g;
CREATE UNIQUE INDEX ON import_orders (order_group);
ANALYZE import_orders;
"""

INSERT_ORDERS = """
INSERT INTO core.orders (order_id, merchant_id, customer_id, warehouse_id, status, ordered_at, completed_at,
                         total_amount, updated_at, source, external_order_code)
OVERRIDING SYSTEM VALUE
SELECT o.order_id, %(merchant_id)s, c.customer_id, NULL, 'completed', o.ordered_at, o.ordered_at,
       o.total_amount, %(at)s, 'import', o.order_code
FROM import_orders o
JOIN core.customers c ON c.merchant_id = %(merchant_id)s AND c.customer_code = o.customer_code
"""

INSERT_ORDER_LINES = """
INSERT INTO core.order_lines (order_id, merchant_id, line_no, product_id, quantity, unit_price, discount_amount)
SELECT o.order_id, %(merchant_id)s, row_number() OVER (PARTITION BY s.order_group ORDER BY s.row_no),
       p.product_id, s.quantity, s.unit_price, s.discount_amount
FROM import_order_rows s
JOIN import_orders o USING (order_group)
JOIN core.products p ON p.merchant_id = %(merchant_id)s AND p.sku_code = s.sku_code
WHERE s.sku_code IS NOT NULL
"""
