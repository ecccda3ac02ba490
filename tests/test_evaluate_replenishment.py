"""`coopcast evaluate replenishment` on a copy of the tiny pipeline run's warehouse, the forecasts
it feeds the coopcast policy (none sees demand after its decision day), and the error without
simulator truth."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from models.replenishment.evaluation import prepare_replay
from models.replenishment.replay_inputs import CoopcastForecaster, ReplayData, build_replay_data
from pipelines.assets.ml import policy_evaluation
from pipelines.resources import WarehouseResource
from tests.conftest import PipelineRun, run_cli, warehouse_rows

pytestmark = pytest.mark.slow(minutes=2)

REPLAY_DAYS = 56
WARMUP_DAYS = 14
REFIT_DAYS = 14
RERUN_DAYS = 28


@pytest.fixture(scope="module")
def evaluated(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    home = tmp_path_factory.mktemp("evaluate_home")
    shutil.copy(pipeline_run.home / "warehouse.duckdb", home / "warehouse.duckdb")
    copy = PipelineRun(home=home, database_url=pipeline_run.database_url)
    result = run_cli(
        copy,
        *("evaluate", "replenishment", "--days", str(REPLAY_DAYS), "--warmup-days", str(WARMUP_DAYS)),
        *("--refit-days", str(REFIT_DAYS), "--seed", "3"),
    )
    assert "coopcast" in result.stdout and "minmax" in result.stdout
    # The title names the warm-up and the refits (a wrapped title keeps its words whole).
    assert "warm-up" in result.stdout and "refitted" in result.stdout
    return copy


def test_the_command_writes_both_policies_per_abc_class_of_the_sample(evaluated: PipelineRun) -> None:
    warehouse = evaluated.home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute("SELECT * FROM ml.policy_evaluation").df()
        as_of = conn.execute("SELECT max(as_of) FROM marts.dim_merchants").fetchone()[0]
    sampled_classes = set(rows["abc_class"]) - {"ALL"}
    assert sampled_classes and sampled_classes <= {"A", "B", "C"}
    assert set(zip(rows["policy"], rows["abc_class"], strict=True)) == {
        (policy, abc_class) for policy in ("minmax", "coopcast") for abc_class in sampled_classes | {"ALL"}
    }
    assert rows["fill_rate"].between(0.0, 1.0).all()
    assert rows["merchant_id"].isna().all() and rows["merchant_code"].isna().all()
    assert (rows["days"] == REPLAY_DAYS).all() and (pd.to_datetime(rows["as_of"]) == pd.Timestamp(as_of)).all()
    assert (rows["warmup_days"] == WARMUP_DAYS).all()
    figures = ["avg_inventory_value", "expired_value", "stockout_days", "orders_placed"]
    assert (rows[figures] >= 0).all().all() and rows["model_version"].notna().all()
    skus = rows.set_index(["policy", "abc_class"])["skus"]
    assert skus["minmax", "ALL"] == skus["coopcast", "ALL"] == skus["minmax"].drop("ALL").sum() > 0


def test_a_rerun_replaces_the_previous_evaluation(evaluated: PipelineRun) -> None:
    warehouse = evaluated.home / "warehouse.duckdb"
    result = dg.materialize(
        [policy_evaluation],
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config={"ops": {policy_evaluation.op.name: {"config": {"days": RERUN_DAYS, "max_skus": 5}}}},
    )
    assert result.success
    runs = warehouse_rows(warehouse, "SELECT DISTINCT run_id, days, warmup_days FROM ml.policy_evaluation")
    assert runs == [(result.run_id, RERUN_DAYS, 0)]
    assert warehouse_rows(warehouse, "SELECT max(skus) FROM ml.policy_evaluation WHERE abc_class = 'ALL'") == [(5,)]


def _synthetic_replay(demand_after_cut: float, cut: pd.Timestamp, as_of: date):
    """Three weekly-seasonal SKUs of one merchant, 200 days of history and a 56-day replay; demand
    after `cut` is multiplied by `demand_after_cut`."""
    generator = np.random.default_rng(11)
    dates = pd.date_range(pd.Timestamp(as_of) - pd.Timedelta(days=255), as_of, freq="D")
    frames = []
    for number, level in enumerate([4.0, 9.0, 1.5]):
        weekly = 1 + 0.4 * np.sin(2 * np.pi * dates.dayofweek / 7)
        demand = generator.poisson(level * weekly).astype(float)
        demand[dates > cut] *= demand_after_cut
        frames.append(pd.DataFrame({"merchant_code": "M1", "sku_code": f"S{number}", "date": dates, "demand": demand}))
    products = pd.DataFrame(
        {
            "merchant_id": 1,
            "merchant_code": "M1",
            "sku_code": ["S0", "S1", "S2"],
            "supplier_code": "P1",
            "category": "调味品",
            "unit_cost": 3.0,
            "shelf_life_days": None,
            "lead_time_days": 3,
            "min_order_qty": 1,
            "order_multiple": 1,
        }
    )
    return build_replay_data(
        demand=pd.concat(frames, ignore_index=True),
        products=products,
        abc_classes=pd.DataFrame({"merchant_id": [1], "sku_code": ["S0"], "abc_class": ["A"]}),
        supplier_lead_times=pd.DataFrame(
            {"merchant_id": [1, 1], "supplier_code": ["P1", "P1"], "lead_time_days": [3, 5], "deliveries": [3, 1]}
        ),
        batches_at_start=pd.DataFrame(columns=["merchant_id", "sku_code", "quantity", "expiry_date"]),
        as_of=as_of,
        days=REPLAY_DAYS,
    )


def _forecasts_by_decision_day(data: ReplayData) -> dict[int, np.ndarray]:
    """Each replay day's forecast from CoopcastForecaster, fed every day's units as sold."""
    inputs = prepare_replay(data.skus, data.demand, data.start, data.initial_batches)
    seen = np.concatenate([inputs.history_sold, inputs.demand], axis=1)
    n_history = inputs.history.shape[1]
    forecaster = CoopcastForecaster(data, refit_every_days=REFIT_DAYS)
    forecasts = {day: forecaster(day, seen[:, : n_history + day + 1], 21)[0] for day in range(data.days)}
    assert forecaster.fits == -(-data.days // REFIT_DAYS)
    return forecasts


def test_no_forecast_sees_sales_after_its_decision_day() -> None:
    # Sales multiplied by 50 after the cut may change only the forecasts of later decision days.
    as_of = date(2026, 6, 30)
    start = pd.Timestamp(as_of) - pd.Timedelta(days=REPLAY_DAYS - 1)
    cut_day = 20
    cut = start + pd.Timedelta(days=cut_day)
    steady = _forecasts_by_decision_day(_synthetic_replay(1.0, cut, as_of))
    surged = _forecasts_by_decision_day(_synthetic_replay(50.0, cut, as_of))
    for day in range(cut_day + 1):
        np.testing.assert_array_equal(steady[day], surged[day])
    assert steady[0].sum() > 0
    # The refit after the cut does see the surge: the check above could fail.
    later = range(cut_day + 1, REPLAY_DAYS)
    assert sum(surged[day].sum() for day in later) > 5 * sum(steady[day].sum() for day in later)


def test_refits_must_be_at_least_a_day_apart(pipeline_run: PipelineRun) -> None:
    result = run_cli(pipeline_run, "evaluate", "replenishment", "--refit-days", "0", check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--refit-days must be at least 1" in lines[0], result.stderr


def test_without_simulator_truth_the_command_fails_with_one_line(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    empty = PipelineRun(home=tmp_path, database_url=pipeline_run.database_url)
    result = run_cli(empty, "evaluate", "replenishment", "--days", str(REPLAY_DAYS), check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run coopcast simulate and coopcast run first" in lines[0], result.stderr


def test_a_replay_past_the_simulated_demand_says_where_it_ends() -> None:
    """After `simulate --live`, as_of is today, past the simulator's last day of demand."""
    days = pd.date_range("2026-09-01", "2026-10-31", freq="D")
    with pytest.raises(ValueError, match=r"replay period 2027-01-05 to 2027-03-01: it ends on 2026-10-31"):
        build_replay_data(
            demand=pd.DataFrame({"merchant_code": "M1", "sku_code": "S0", "date": days, "demand": 2.0}),
            products=pd.DataFrame(
                {"merchant_id": [1], "merchant_code": ["M1"], "sku_code": ["S0"], "supplier_code": ["P1"]}
            ),
            abc_classes=pd.DataFrame({"merchant_id": [1], "sku_code": ["S0"], "abc_class": ["A"]}),
            supplier_lead_times=pd.DataFrame(
                {"merchant_id": [1], "supplier_code": ["P1"], "lead_time_days": [3], "deliveries": [1]}
            ),
            batches_at_start=pd.DataFrame(columns=["merchant_id", "sku_code", "quantity", "expiry_date"]),
            as_of=date(2027, 3, 1),
            days=REPLAY_DAYS,
        )
