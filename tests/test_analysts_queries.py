"""The ten queries of docs/analysts.md run on a simulated network's serving copy and answer."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import REPO_ROOT, PipelineRun

GUIDE = REPO_ROOT / "docs" / "analysts.md"
QUERY = re.compile(r"^### (\d+)\. (.+?)\n\n```sql\n(.*?)```", re.S | re.M)


def _queries() -> list[tuple[str, str]]:
    return [(f"{number}. {title}", sql) for number, title, sql in QUERY.findall(GUIDE.read_text(encoding="utf-8"))]


def test_the_guide_has_ten_numbered_queries() -> None:
    assert [title.split(".")[0] for title, _ in _queries()] == [str(number) for number in range(1, 11)]


@pytest.mark.parametrize(("title", "sql"), _queries(), ids=[title.split(".")[0] for title, _ in _queries()])
def test_query_answers_on_the_serving_copy(serving_home, pipeline_run: PipelineRun, title: str, sql: str) -> None:
    with duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True) as conn:
        result = conn.execute(sql)
        columns = [column[0] for column in result.description]
        rows = result.fetchall()
    assert rows, f"query {title!r} returned no row on the simulated network"
    assert "merchant_code" in columns, f"query {title!r} should say whose numbers these are"
