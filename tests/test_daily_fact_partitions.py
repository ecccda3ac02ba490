"""The daily facts' partitions run through Dagster as the UI launches them: one day, or a subset of
the facts, rebuilds what was chosen and leaves the nightly's incremental state alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import build_definitions
from pipelines.resources import RunSettings, WarehouseResource
from tests.conftest import PipelineRun
from tests.test_dashboard_apptest import use_home

pytestmark = pytest.mark.slow(minutes=2)

DAILY_FACTS = "dbt_daily_facts"
DAY_TOTALS = "SELECT sales_date, sum(revenue) FROM marts.fct_daily_sales GROUP BY 1 ORDER BY 1"
BUILD_STATE = "SELECT * FROM raw._facts_build_state"


@pytest.fixture
def warehouse(pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.home / "warehouse.duckdb", copy)
    use_home(monkeypatch, tmp_path)
    return copy


def materialize_facts(warehouse: Path, run_settings: RunSettings | None = None, **how) -> dg.ExecuteInProcessResult:
    """The daily facts' asset alone, through Dagster, on `warehouse`."""
    definitions = build_definitions()
    [facts] = [
        asset for asset in definitions.assets if getattr(asset, "node_def", None) and asset.node_def.name == DAILY_FACTS
    ]
    resources = {
        **definitions.resources,
        "warehouse": WarehouseResource(path=str(warehouse)),
        **({"run_settings": run_settings} if run_settings else {}),
    }
    with dg.instance_for_test() as instance:
        return dg.materialize([facts], instance=instance, resources=resources, **how)


def read(warehouse: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(query).fetchall()


def test_materializing_one_day_rebuilds_that_day_and_keeps_the_build_state(warehouse: Path) -> None:
    totals, state = read(warehouse, DAY_TOTALS), read(warehouse, BUILD_STATE)
    day = totals[-2][0]
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("UPDATE marts.fct_daily_sales SET revenue = revenue + 1000 WHERE sales_date = ?", [day])

    result = materialize_facts(warehouse, partition_key=day.isoformat())

    assert result.success
    assert read(warehouse, DAY_TOTALS) == totals
    assert read(warehouse, BUILD_STATE) == state


def test_building_some_of_the_facts_leaves_the_state_for_the_next_run_to_build_them_all(warehouse: Path) -> None:
    state = read(warehouse, BUILD_STATE)

    result = materialize_facts(warehouse, selection=[dg.AssetKey(["marts", "fct_daily_sales"])])

    assert result.success
    assert read(warehouse, BUILD_STATE) == state
