"""From the codes users know to the ids the services take, always within one merchant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from transactional.api.schemas import CODE_FORBIDDEN
from transactional.errors import InvalidRequest, NotFound

MISSING_CODES_SHOWN = 5


@dataclass(frozen=True)
class Kind:
    label: str
    table: str
    id_column: str
    code_column: str


CUSTOMER = Kind("customer", "customers", "customer_id", "customer_code")
SKU = Kind("SKU", "products", "product_id", "sku_code")
WAREHOUSE = Kind("warehouse", "warehouses", "warehouse_id", "warehouse_code")
SUPPLIER = Kind("supplier", "suppliers", "supplier_id", "supplier_code")
ORDER = Kind("order", "orders", "order_id", "order_no")
PURCHASE_ORDER = Kind("purchase order", "purchase_orders", "purchase_order_id", "po_no")
RETURN = Kind("return", "returns", "return_id", "return_no")


def ids(conn: psycopg.Connection, merchant_id: int, kind: Kind, codes: Iterable[str]) -> dict[str, int]:
    """The id of every code; NotFound names the codes the merchant does not have."""
    wanted = sorted(set(codes))
    # Codes from the path have passed no schema; a NUL would fail in the driver instead.
    for code in wanted:
        if CODE_FORBIDDEN.intersection(code):
            raise InvalidRequest(f"{kind.label} code {code!r} contains a control character")
    query = sql.SQL("SELECT {code}, {id} FROM core.{table} WHERE merchant_id = %s AND {code} = ANY(%s)").format(
        code=sql.Identifier(kind.code_column), id=sql.Identifier(kind.id_column), table=sql.Identifier(kind.table)
    )
    found = {code: int(id_) for code, id_ in conn.execute(query, [merchant_id, wanted]).fetchall()}
    missing = [code for code in wanted if code not in found]
    if missing:
        shown = ", ".join(missing[:MISSING_CODES_SHOWN]) + (", …" if len(missing) > MISSING_CODES_SHOWN else "")
        verb = "does" if len(missing) == 1 else "do"
        raise NotFound(f"{kind.label} {shown} {verb} not exist")
    return found


def id_of(conn: psycopg.Connection, merchant_id: int, kind: Kind, code: str) -> int:
    return ids(conn, merchant_id, kind, [code])[code]


def batch_id(conn: psycopg.Connection, merchant_id: int, sku_code: str, lot_code: str) -> int:
    row = conn.execute(
        """SELECT b.batch_id FROM core.batches b JOIN core.products p ON p.product_id = b.product_id
           WHERE b.merchant_id = %s AND p.sku_code = %s AND b.lot_code = %s""",
        [merchant_id, sku_code, lot_code],
    ).fetchone()
    if row is None:
        raise NotFound(f"SKU {sku_code} has no batch {lot_code}")
    return int(row[0])


PROMOTION = Kind("promotion", "promotions", "promotion_id", "promotion_code")
COUPON = Kind("coupon", "coupons", "coupon_id", "coupon_code")


def category_id(conn: psycopg.Connection, category_code: str) -> int:
    """Categories are the platform's, shared by every merchant: the code alone names one."""
    row = conn.execute("SELECT category_id FROM core.categories WHERE category_code = %s", [category_code]).fetchone()
    if row is None:
        raise NotFound(f"category {category_code} does not exist")
    return int(row[0])
