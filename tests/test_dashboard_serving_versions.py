"""The dashboard reads each newly published serving copy while it keeps running
(dashboards/queries.py), with no restart."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from dashboards import queries


def publish_merchants(serving: Path, codes: list[str], mtime_ns: int) -> None:
    """As the pipeline publishes: a whole new file renamed over the served one."""
    next_copy = serving.parent / ".next" / serving.name
    next_copy.parent.mkdir(parents=True, exist_ok=True)
    next_copy.unlink(missing_ok=True)
    with duckdb.connect(str(next_copy)) as conn:
        conn.execute("CREATE SCHEMA marts")
        conn.execute(
            "CREATE TABLE marts.dim_merchants (merchant_id BIGINT, merchant_code VARCHAR, merchant_name VARCHAR,"
            " as_of DATE)"
        )
        for number, code in enumerate(codes, start=1):
            conn.execute("INSERT INTO marts.dim_merchants VALUES (?, ?, ?, DATE '2026-10-31')", [number, code, code])
    os.utime(next_copy, ns=(mtime_ns, mtime_ns))
    os.replace(next_copy, serving)


@pytest.fixture
def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COOPCAST_HOME", str(tmp_path))
    monkeypatch.delenv("COOPCAST_WAREHOUSE", raising=False)
    path = queries.serving_file()
    path.parent.mkdir(parents=True)
    return path


def test_a_copy_published_while_the_last_one_is_open_is_read_at_once(serving: Path) -> None:
    publish_merchants(serving, ["M001"], mtime_ns=1_000_000_000)
    assert queries.merchants()["merchant_code"].tolist() == ["M001"]

    # The first copy's connection is still open in the dashboard's cache when the next one lands.
    publish_merchants(serving, ["M001", "M002"], mtime_ns=2_000_000_000)
    assert queries.merchants()["merchant_code"].tolist() == ["M001", "M002"]
    assert queries.published("marts", "dim_merchants")
    assert not queries.published("marts", "fct_merchant_daily_sales")
