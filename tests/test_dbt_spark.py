"""The dbt project on Spark (dbt-spark, a local session) builds every model from the same sources
as DuckDB, and every intermediate and mart table equals DuckDB's.

The sources and DuckDB's tables both come from the tiny pipeline run shared by the session: Spark
builds from the sources that run ingested and wrote, and its tables must equal those the run left,
which are what merchants and analysts read.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.spark_engine import SparkHome, check_against_duckdb, compare_table
from tests.conftest import PipelineRun

# Marts of each kind of engine difference: incremental (partitioned), timestamps and time zones,
# date arithmetic, and the risk register at the end of the graph.
KEY_MARTS = ("marts.fct_daily_sales", "marts.fct_order_sla", "marts.dim_customers", "marts.fct_risk_register")


def _require_java() -> None:
    if shutil.which("java") is None and os.environ.get("COOPCAST_CI") != "1":
        pytest.skip("Spark needs Java (CI installs it)")


@pytest.mark.slow(minutes=6)
def test_marts_built_on_spark_equal_duckdb(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    _require_java()
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(pipeline_run.home / "warehouse.duckdb", warehouse)

    home = SparkHome(tmp_path / "spark")
    result = check_against_duckdb(warehouse, home)

    # Every model of the project ran on Spark, and every table among them was compared.
    manifest = json.loads((home.root / "target" / "manifest.json").read_text())["nodes"]
    models = [node for node in manifest.values() if node["resource_type"] == "model"]
    run_results = json.loads((home.root / "target" / "run_results.json").read_text())["results"]
    assert len(run_results) == len(models)
    materialized = ("table", "incremental")
    tables = {f"{node['schema']}.{node['alias']}" for node in models if node["config"]["materialized"] in materialized}
    assert {f"{schema}.{table}" for schema, table in result.tables} == tables
    assert set(KEY_MARTS) <= tables
    assert not result.mismatches, "\n".join(str(mismatch) for mismatch in result.mismatches)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = {relation: conn.execute(f"SELECT count(*) FROM {relation}").fetchone()[0] for relation in KEY_MARTS}
    assert all(count > 0 for count in rows.values()), rows


def test_comparison_names_the_table_column_and_row(tmp_path: Path) -> None:
    """A value off is reported with its table, column and rows; a float difference within the
    tolerance and another row order are not. Decimals compare exactly."""
    spark_files = tmp_path / "marts.db" / "fct_example"
    spark_files.mkdir(parents=True)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute("CREATE SCHEMA marts")
        conn.execute(
            "CREATE TABLE marts.fct_example AS SELECT * FROM (VALUES"
            " (1, 'M001', 10.25::DECIMAL(18, 2), 0.1::DOUBLE),"
            " (2, 'M002', 3.50::DECIMAL(18, 2), 1.0 / 3)) AS t (merchant_id, merchant_code, revenue, share)"
        )
        conn.execute(
            "COPY (SELECT merchant_id, merchant_code, revenue, share + 1e-15 AS share FROM marts.fct_example"
            f" ORDER BY merchant_id DESC) TO '{spark_files / 'part-0.parquet'}' (FORMAT parquet)"
        )
        assert compare_table(conn, "marts", "fct_example", spark_files) is None

        conn.execute(
            "COPY (SELECT merchant_id, merchant_code,"
            " CASE WHEN merchant_id = 2 THEN 3.51 ELSE revenue END::DECIMAL(18, 2) AS revenue, share"
            f" FROM marts.fct_example) TO '{spark_files / 'part-0.parquet'}' (FORMAT parquet)"
        )
        mismatch = compare_table(conn, "marts", "fct_example", spark_files)

    assert mismatch is not None
    message = str(mismatch)
    assert message.startswith("marts.fct_example: column revenue: DuckDB Decimal('3.50'), Spark Decimal('3.51')")
    assert "'merchant_code': 'M002'" in message
