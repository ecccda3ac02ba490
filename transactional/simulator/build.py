"""The network's category tree, through the catalogue services, and simulated business-local times."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import psycopg

from transactional import catalogue
from transactional.simulator.reference import CATEGORY_TREE
from transactional.stock import BUSINESS_TIMEZONE


def moment(day: date, hour: int, minute: int = 0, seconds: int = 0) -> datetime:
    """A business-local time on a simulated day."""
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TIMEZONE) + timedelta(seconds=seconds)


def ensure_categories(conn: psycopg.Connection, at: datetime) -> dict[str, int]:
    """The network-wide tree; categories already present (same code) are reused. Leaf code -> id."""
    codes = [
        code
        for division in CATEGORY_TREE
        for group in division.groups
        for code in (division.code, group.code, *(leaf.code for leaf in group.leaves))
    ]
    ids = dict(
        conn.execute(
            "SELECT category_code, category_id FROM core.categories WHERE category_code = ANY(%s)", [codes]
        ).fetchall()
    )

    def ensure(code: str, name: str, name_en: str, level: int, parent: int | None, is_fresh: bool = False) -> int:
        if code not in ids:
            ids[code] = catalogue.create_category(conn, code, name, level, at, parent, name_en, is_fresh)
        return ids[code]

    leaves = {}
    for division in CATEGORY_TREE:
        top = ensure(division.code, division.name, division.name_en, 1, None)
        for group in division.groups:
            middle = ensure(group.code, group.name, group.name_en, 2, top)
            for leaf in group.leaves:
                leaves[leaf.code] = ensure(leaf.code, leaf.name, leaf.name_en, 3, middle, leaf.fresh)
    return leaves
