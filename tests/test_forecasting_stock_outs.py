"""Stock-out days filled with the demand of the in-stock days before them (models/forecasting/stock_outs.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.forecasting.pipeline import forecast_network
from models.forecasting.stock_outs import IN_STOCK_WINDOW_DAYS, fill_stock_out_days

AS_OF = {1: date(2026, 6, 30)}


def _sales(sku: str, days: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_id": 1,
            "sku_code": sku,
            "sales_date": pd.to_datetime(list(days)).date,
            "quantity": list(days.values()),
        }
    )


def _stock_outs(sku: str, days: list[str] | pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"merchant_id": 1, "sku_code": sku, "date": pd.to_datetime(days)})


def _added(filled: pd.DataFrame, sales: pd.DataFrame) -> dict[str, float]:
    added = filled.iloc[len(sales) :]
    return {str(day): quantity for day, quantity in zip(added["sales_date"], added["quantity"], strict=True)}


def test_a_stock_out_day_takes_the_mean_of_the_in_stock_days_before_it():
    # In stock: 06-01 sold 2, 06-02 sold 4, 06-04 sold 6, 06-07 sold nothing (0 counts).
    # Out: 06-03 → mean(2, 4) = 3; 06-05 and 06-06 → mean(2, 4, 6) = 4; 06-08 → mean(2, 4, 6, 0) = 3.
    sales = _sales("FERT", {"2026-06-01": 2, "2026-06-02": 4, "2026-06-04": 6, "2026-06-09": 1})
    stock_outs = _stock_outs("FERT", ["2026-06-03", "2026-06-05", "2026-06-06", "2026-06-08"])
    filled = fill_stock_out_days(sales, stock_outs, AS_OF)
    pd.testing.assert_frame_equal(filled.iloc[: len(sales)], sales.astype({"quantity": float}))
    assert _added(filled, sales) == {"2026-06-03": 3.0, "2026-06-05": 4.0, "2026-06-06": 4.0, "2026-06-08": 3.0}


def test_a_long_stock_out_keeps_the_last_rate():
    # Sold 5 a day for 28 days, then out of stock for 40 days, sold 1 on the day after: every
    # stock-out day gets 5, the last in-stock rate, though after 28 days none is in the window.
    selling = pd.date_range("2026-04-01", periods=IN_STOCK_WINDOW_DAYS, freq="D")
    out = pd.date_range(selling[-1] + pd.Timedelta(days=1), periods=40, freq="D")
    sales = _sales(
        "SEED", {**{str(day.date()): 5.0 for day in selling}, str((out[-1] + pd.Timedelta(days=1)).date()): 1}
    )
    filled = _added(fill_stock_out_days(sales, _stock_outs("SEED", out), AS_OF), sales)
    assert filled == {str(day.date()): 5.0 for day in out}


def test_inactive_series_and_days_before_the_first_sale_are_left_alone():
    # OLD last sold more than 90 days before as_of; NEW was out of stock before its first sale.
    sales = pd.concat(
        [_sales("OLD", {"2026-03-01": 4}), _sales("NEW", {"2026-06-10": 3})],
        ignore_index=True,
    )
    stock_outs = pd.concat(
        [_stock_outs("OLD", ["2026-03-02", "2026-06-20"]), _stock_outs("NEW", ["2026-06-05", "2026-06-11"])],
        ignore_index=True,
    )
    assert _added(fill_stock_out_days(sales, stock_outs, AS_OF), sales) == {"2026-06-11": 3.0}


def test_without_stock_outs_the_sales_are_returned_as_they_are():
    sales = _sales("FERT", {"2026-06-01": 2})
    assert fill_stock_out_days(sales, _stock_outs("FERT", []), AS_OF) is sales


@pytest.mark.slow
def test_a_sku_out_of_stock_for_its_last_weeks_is_still_forecast_at_its_level():
    # Eight months selling about 6 a day, then four weeks with nothing to sell up to as_of. From the
    # zeros every model learns that demand stopped; with the days filled it stays near 6.
    generator = np.random.default_rng(3)
    selling = pd.date_range("2025-10-05", periods=240, freq="D")
    out = pd.date_range(selling[-1] + pd.Timedelta(days=1), date(2026, 6, 30), freq="D")
    sales = _sales("FERT", {str(day.date()): float(generator.poisson(6.0)) for day in selling})
    stock_outs = _stock_outs("FERT", out)

    censored = forecast_network(sales, AS_OF).forecasts
    filled = forecast_network(fill_stock_out_days(sales, stock_outs, AS_OF), AS_OF).forecasts
    first_month = slice(0, 28)
    assert censored["yhat"].iloc[first_month].mean() < 2.0
    assert 4.5 < filled["yhat"].iloc[first_month].mean() < 7.5
