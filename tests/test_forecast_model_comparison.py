"""`marts.fct_forecast_model_comparison` on a real tiny pipeline run: each option's errors at the
last origin beside the chosen options' on the same series, as computed here from
ml.forecast_backtests."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

ERROR_COLUMNS = ["mase", "rmsse", "bias"]


@pytest.fixture(scope="module")
def warehouse(pipeline_run: PipelineRun):
    with duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True) as conn:
        yield conn


def expected_comparison(backtests: pd.DataFrame) -> pd.DataFrame:
    whole = backtests[backtests["horizon_bucket"] == "all"]
    last = whole[whole["origin"] == whole.groupby(["merchant_id", "sku_code"])["origin"].transform("max")]
    chosen = last[last["chosen"]][["merchant_id", "sku_code", *ERROR_COLUMNS, "forecast_units"]]
    paired = last.merge(chosen, on=["merchant_id", "sku_code"], suffixes=("", "_chosen"))
    rows = []
    for model, group in paired.groupby("model"):
        row = {"model": model, "series": len(group), "series_chosen": int(group["chosen"].sum())}
        for column in ERROR_COLUMNS:
            scored = group[group[column].notna()]
            candidate, by_chosen = scored[column], scored[f"{column}_chosen"]
            if column == "bias":
                candidate, by_chosen, column = candidate.abs(), by_chosen.abs(), "abs_bias"
            row[f"candidate_{column}"] = candidate.mean()
            row[f"chosen_{column}"] = by_chosen.mean()
        differences = group["mase_chosen"] - group["mase"]
        row["mase_difference_standard_error"] = differences.std() / np.sqrt(differences.count())
        counted = group[group["forecast_units"].notna()]
        row["candidate_forecast_ratio"] = counted["forecast_units"].sum() / counted["actual_units"].sum()
        row["chosen_forecast_ratio"] = counted["forecast_units_chosen"].sum() / counted["actual_units"].sum()
        rows.append(row)
    return pd.DataFrame(rows).set_index("model").sort_index()


def test_each_option_is_scored_against_the_chosen_forecast_on_its_own_series(warehouse) -> None:
    backtests = warehouse.execute(
        """SELECT b.* FROM ml.forecast_backtests b
           JOIN intermediate.int_merchants_as_of m ON m.merchant_id = b.merchant_id AND m.as_of = b.as_of"""
    ).df()
    comparison = (
        warehouse.execute("SELECT * FROM marts.fct_forecast_model_comparison").df().set_index("model").sort_index()
    )
    expected = expected_comparison(backtests)

    assert list(comparison.index) == list(expected.index)
    assert {"ensemble", "adida", "seasonal_naive", "lightgbm_global"} <= set(comparison.index)
    series_with_a_choice = backtests.loc[backtests["chosen"], ["merchant_id", "sku_code"]].drop_duplicates()
    assert comparison["series_chosen"].sum() == len(series_with_a_choice)
    pd.testing.assert_frame_equal(
        comparison[expected.columns], expected, check_dtype=False, check_exact=False, rtol=1e-12
    )
    assert (comparison["chosen_mase_is_lower"] == (comparison["chosen_mase"] < comparison["candidate_mase"])).all()
    assert np.isfinite(comparison["candidate_mase"]).all()
