"""The weekly plan's inputs (models/replenishment/plan.py), with hand-computed cases."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from models.replenishment.plan import (
    daily_forecast_error_sd,
    forecast_sums,
    lead_time_spread,
    plan_replenishment,
)

AS_OF = date(2026, 6, 1)


def _daily(merchant_id: int, sku_code: str, values: list[float], start: date = AS_OF) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_id": merchant_id,
            "sku_code": sku_code,
            "date": [start + timedelta(days=offset + 1) for offset in range(len(values))],
            "yhat": values,
        }
    )


def _series(**overrides) -> pd.DataFrame:
    row = {
        "merchant_id": 1,
        "sku_code": "S",
        "as_of": AS_OF,
        "lead_time_days": 2,
        "review_period_days": 3,
        "shelf_life_days": pd.NA,
    }
    return pd.DataFrame([{**row, **overrides}])


def test_forecast_sums_over_the_lead_time_and_the_protection_period() -> None:
    # Days 1..5 after as_of sell 1, 2, 3, 4, 5: L = 2 → 3, P = 5 → 15; a negative forecast counts as 0.
    forecasts = _daily(1, "S", [1, 2, 3, 4, 5, -7, 1])
    sums = forecast_sums(forecasts, _series())
    assert sums.loc[0, "forecast_lead_time_demand"] == 3
    assert sums.loc[0, "forecast_protection_demand"] == 15
    assert sums.loc[0, "prebuild_qty"] == 0
    assert math.isnan(forecast_sums(forecasts.iloc[0:0], _series()).loc[0, "forecast_protection_demand"])


def test_prebuild_before_a_peak_only_for_goods_that_keep() -> None:
    # 2 a day over P = 5 days, then a fortnight at 4 a day (≥ 1.5 × 2): the rise, 14 × 2 = 28, is built ahead.
    forecasts = _daily(1, "S", [2] * 5 + [4] * 14 + [50])
    keeps = forecast_sums(forecasts, _series())
    assert keeps.loc[0, "prebuild_qty"] == pytest.approx(28)
    assert forecast_sums(forecasts, _series(shelf_life_days=200)).loc[0, "prebuild_qty"] == pytest.approx(28)
    # A perishable, or a rise under half the current rate, builds nothing ahead.
    assert forecast_sums(forecasts, _series(shelf_life_days=60)).loc[0, "prebuild_qty"] == 0
    gentle = _daily(1, "S", [2] * 5 + [2.9] * 14)
    assert forecast_sums(gentle, _series()).loc[0, "prebuild_qty"] == 0


def test_error_sd_from_the_backtest_else_the_recent_spread_once_per_series() -> None:
    backtests = pd.DataFrame(
        {
            "merchant_id": [1, 1, 1, 1],
            "sku_code": ["B", "B", "B", "B"],
            "origin": [date(2026, 4, 1), date(2026, 4, 29), date(2026, 4, 29), date(2026, 4, 29)],
            "horizon_bucket": ["all", "all", "all", "1-7"],
            "rmse": [1.0, 7.0, 99.0, 99.0],
            "chosen": [True, True, False, True],
        }
    )
    # B: the chosen option's RMSE at its two origins, 1 and 7, pooled: √((1 + 49) / 2) = 5; other
    # models and the horizon buckets do not count.
    # N sold 12 and 2 units in the last 28 days, no backtest; listed once per warehouse.
    recent = pd.DataFrame(
        {
            "merchant_id": 1,
            "sku_code": "N",
            "date": pd.to_datetime(["2026-05-10", "2026-06-01"]),
            "quantity": [12.0, 2.0],
        }
    )
    series = pd.DataFrame({"merchant_id": [1, 1, 1], "sku_code": ["B", "N", "N"]})
    error_sd = daily_forecast_error_sd(backtests, recent, series, pd.Series([pd.Timestamp(AS_OF)] * 3))
    assert error_sd.iloc[0] == pytest.approx(5.0)
    expected_recent = float(np.std([12, 2] + [0] * 26))
    assert error_sd.iloc[1:].tolist() == pytest.approx([expected_recent, expected_recent])


def test_lead_time_spread_weighs_deliveries() -> None:
    seen = pd.DataFrame(
        {
            "merchant_id": [1, 1, 1],
            "supplier_code": ["S", "S", "T"],
            "lead_time_days": [4, 6, 3],
            "deliveries": [3, 1, 2],
        }
    )
    spread = lead_time_spread(seen).set_index("supplier_code")["lead_time_sd_days"]
    # S: mean 4.5, E[x²] = (3 × 16 + 36) / 4 = 21 → variance 0.75.
    assert spread["S"] == pytest.approx(math.sqrt(0.75))
    assert spread["T"] == 0


def test_plan_splits_the_forecast_by_warehouse_and_shortens_reviews_for_perishables() -> None:
    positions = pd.DataFrame(
        {
            "merchant_id": 1,
            "merchant_code": "M1",
            "product_id": [10, 10, 11],
            "sku_code": ["KEEPS", "KEEPS", "FRESH"],
            "warehouse_id": [1, 2, 1],
            "warehouse_code": ["WH01", "WH02", "WH01"],
            "supplier_code": "S",
            "as_of": AS_OF,
            "lead_time_days": 1,
            "review_period_days": 7,
            "min_order_qty": 1,
            "order_multiple": 1,
            "demand_share": [0.75, 0.25, 1.0],
            "available": [0, 0, 0],
            "on_order": [0, 0, 0],
        }
    )
    products = pd.DataFrame({"merchant_id": 1, "product_id": [10, 11], "shelf_life_days": [pd.NA, 14]})
    classes = pd.DataFrame({"merchant_id": 1, "sku_code": ["KEEPS", "FRESH"], "abc_class": "A", "xyz_class": "X"})
    forecasts = pd.concat([_daily(1, "KEEPS", [4.0] * 30), _daily(1, "FRESH", [3.0] * 30)]).assign(
        model="adida", run_id="r1"
    )
    no_backtests = pd.DataFrame(columns=["merchant_id", "sku_code", "origin", "horizon_bucket", "rmse", "chosen"])
    no_sales = pd.DataFrame(columns=["merchant_id", "sku_code", "date", "quantity"])
    no_lead_times = pd.DataFrame(columns=["merchant_id", "supplier_code", "lead_time_days", "deliveries"])
    plan = plan_replenishment(positions, products, classes, no_lead_times, forecasts, no_backtests, no_sales)
    # KEEPS: P = 1 + 7 = 8 days × 4 = 32, split 24 : 8. FRESH: 14 // 7 = 2-day reviews, P = 3 → 9.
    assert plan["review_period_days"].tolist() == [7, 7, 2]
    assert plan["forecast_protection_demand"].astype(float).tolist() == pytest.approx([24, 8, 9])
    assert plan["suggested_qty"].tolist() == [24, 8, 9]
    assert plan["forecast_model"].tolist() == ["adida"] * 3
    assert plan["reason"].tolist() == ["below_reorder_point"] * 3
