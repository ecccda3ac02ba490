"""Small builders the test modules share for the data every shop needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from transactional import catalogue


@dataclass(frozen=True)
class CategoryPath:
    top: int
    middle: int
    leaf: int


def category_path(conn: psycopg.Connection, code: str, names: tuple[str, str, str], at: datetime) -> CategoryPath:
    """One branch of the three-level tree, coded `code`, `code-1`, `code-1-1` (e.g. 农资 › 化肥 › 复合肥)."""
    top = catalogue.create_category(conn, code, names[0], 1, at)
    middle = catalogue.create_category(conn, f"{code}-1", names[1], 2, at, top)
    leaf = catalogue.create_category(conn, f"{code}-1-1", names[2], 3, at, middle)
    return CategoryPath(top, middle, leaf)
