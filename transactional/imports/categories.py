"""The category that SKUs registered by an import land in until the merchant sorts them."""

from __future__ import annotations

from datetime import datetime

import psycopg

from transactional.errors import ImportRefused

# (code, name, English name) for levels 1, 2 and 3: products live only in level-3 categories.
IMPORTED_CATEGORY_PATH = (
    ("IMPORTED", "导入", "Imported"),
    ("IMPORTED-UNSORTED", "未分类", "Imported / uncategorised"),
    ("IMPORTED-UNSORTED-SKU", "未分类", "Imported / uncategorised"),
)


def imported_leaf_category(conn: psycopg.Connection, at: datetime) -> int:
    """The 'imported / 未分类' leaf's id, creating the three levels when missing.

    The tree is network-wide, so only the owner may add to it; a role subject to row security
    can use the category once it exists.
    """
    parent_id: int | None = None
    for level, (code, name, name_en) in enumerate(IMPORTED_CATEGORY_PATH, start=1):
        row = conn.execute("SELECT category_id, level FROM core.categories WHERE category_code = %s", [code]).fetchone()
        if row is None:
            row = _create(conn, code, name, name_en, level, parent_id, at)
        if row[1] != level:
            raise ImportRefused(f"category {code} exists at level {row[1]}; imported SKUs need it at level {level}")
        parent_id = int(row[0])
    assert parent_id is not None
    return parent_id


def _create(
    conn: psycopg.Connection, code: str, name: str, name_en: str, level: int, parent_id: int | None, at: datetime
) -> tuple[int, int]:
    try:
        with conn.transaction():
            conn.execute(
                """INSERT INTO core.categories (category_code, name, name_en, level, parent_id, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (category_code) DO NOTHING""",
                [code, name, name_en, level, parent_id, at],
            )
    except psycopg.errors.InsufficientPrivilege as error:
        raise ImportRefused(
            f"category {code} ('imported / 未分类') does not exist and this connection may not create categories; "
            "run one import with --create-products as the database owner (the coopcast command) first"
        ) from error
    row = conn.execute("SELECT category_id, level FROM core.categories WHERE category_code = %s", [code]).fetchone()
    assert row is not None
    return row
