"""Churn warnings through the real pipeline: a merchant's imported history scored by `coopcast run --as-of`,
and the simulated network's churners ranked above its loyal customers."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.conftest import PipelineRun, run_cli, warehouse_rows

pytestmark = pytest.mark.slow(minutes=3)

IMPORT_AS_OF = date(2026, 6, 30)
HISTORY_START = date(2024, 7, 1)
# Fewer than the classifier needs: a small shop gets the BG/NBD baseline.
IMPORTED_CUSTOMERS = 45


def write_history(path: Path, seed: int = 11) -> tuple[set[str], set[str]]:
    """A shop's till export with only who, when and how much: loyal customers buying every couple of
    weeks, and a third who stopped buying within the six months before IMPORT_AS_OF.

    Returns (loyal codes, churned codes). Columns are named as the shop names them, not as coopcast does.
    """
    rng = np.random.default_rng(seed)
    loyal, churned = set(), set()
    days = (IMPORT_AS_OF - HISTORY_START).days
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["会员号", "消费时间", "金额"])
        for number in range(IMPORTED_CUSTOMERS):
            code = f"C{number:03d}"
            stops = number % 3 == 0
            last_day = days - int(rng.integers(120, 180)) if stops else days
            (churned if stops else loyal).add(code)
            day = int(rng.integers(0, 20))
            while day <= last_day:
                bought = HISTORY_START + timedelta(days=day)
                writer.writerow([code, f"{bought.isoformat()} 10:00", f"{rng.uniform(30, 300):.2f}"])
                day += int(rng.integers(7, 22))
    return loyal, churned


@pytest.fixture(scope="module")
def imported_merchant(tmp_path_factory: pytest.TempPathFactory, database_factory) -> tuple[PipelineRun, set, set]:
    home = tmp_path_factory.mktemp("churn_import_home")
    pipeline = PipelineRun(home=home, database_url=database_factory())
    history = home / "history.csv"
    loyal, churned = write_history(history)
    run_cli(pipeline, "init")
    run_cli(pipeline, "merchant", "create", "SHOP01", "前进村小卖部")
    run_cli(
        pipeline,
        "import",
        "orders",
        str(history),
        "--merchant",
        "SHOP01",
        "--map",
        "customer_code=会员号",
        "--map",
        "ordered_at=消费时间",
        "--map",
        "amount=金额",
    )
    run_cli(pipeline, "run", "--as-of", IMPORT_AS_OF.isoformat())
    return pipeline, loyal, churned


def test_an_imported_history_is_scored_for_every_customer(imported_merchant) -> None:
    pipeline, loyal, churned = imported_merchant
    rows = warehouse_rows(
        pipeline.home / "warehouse.duckdb",
        "SELECT customer_code, as_of, horizon_days, churn_risk, status, reasons FROM ml.churn_scores"
        " WHERE merchant_code = 'SHOP01'",
    )
    assert {row[0] for row in rows} == loyal | churned
    assert {(row[1], row[2]) for row in rows} == {(IMPORT_AS_OF, 90)}
    risk = {row[0]: row[3] for row in rows}
    status = {row[0]: row[4] for row in rows}
    # Customers silent for four months or more are sleeping or lost, never active; loyal ones are not.
    assert all(status[code] in {"sleeping", "lost"} for code in churned)
    assert all(status[code] in {"active", "at_risk"} for code in loyal)
    assert min(risk[code] for code in churned) > max(risk[code] for code in loyal)
    assert all("long_silence" in row[5] for row in rows if row[0] in churned)


def test_a_merchant_with_few_customers_gets_the_baseline_with_a_note(imported_merchant) -> None:
    pipeline, _, _ = imported_merchant
    models = warehouse_rows(
        pipeline.home / "warehouse.duckdb",
        "SELECT DISTINCT model FROM ml.churn_scores WHERE merchant_code = 'SHOP01'",
    )
    notes = warehouse_rows(
        pipeline.home / "warehouse.duckdb",
        "SELECT note FROM ml.churn_evaluation WHERE merchant_code = 'SHOP01' AND chosen",
    )
    assert models == [("bgnbd",)]
    assert notes and all(note for (note,) in notes)


def test_the_simulated_churners_rank_above_the_loyal_customers(pipeline_run: PipelineRun) -> None:
    scored = warehouse_rows(
        pipeline_run.home / "warehouse.duckdb",
        "SELECT s.churn_risk, l.churned_on IS NOT NULL AND l.churned_on <= s.as_of FROM ml.churn_scores s"
        " JOIN sim.customer_lifecycle l USING (merchant_code, customer_code)",
    )
    churned = [risk for risk, gone in scored if gone]
    loyal = [risk for risk, gone in scored if not gone]
    assert len(churned) >= 5 and len(loyal) >= 50
    assert roc_auc_score([gone for _, gone in scored], [risk for risk, _ in scored]) > 0.85


def test_the_time_split_evaluation_is_stored_for_both_truths(pipeline_run: PipelineRun) -> None:
    rows = warehouse_rows(
        pipeline_run.home / "warehouse.duckdb",
        "SELECT truth, count(*) FILTER (WHERE chosen AND model = 'chosen'), min(split_cutoff), min(as_of)"
        " FROM ml.churn_evaluation WHERE merchant_id IS NULL GROUP BY truth ORDER BY truth",
    )
    assert [row[:2] for row in rows] == [("observed", 1), ("simulator", 1)]
    assert all((as_of - cutoff).days == 90 for _, _, cutoff, as_of in rows)
