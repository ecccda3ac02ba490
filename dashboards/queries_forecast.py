"""Forecast & replenishment page queries: per-SKU backtest accuracy and the replenishment suggestions."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.queries import _query_frame

HORIZON_BUCKETS = ("1-7", "8-14", "15-28", "all")


def sku_accuracy_table(merchant_id: int, as_of: date) -> pd.DataFrame:
    """Every forecast SKU's last backtest month: units sold, forecast, accuracy and MASE, best sellers first."""
    return _query_frame(
        """SELECT a.sku_code, p.sku_name, a.model, a.actual_units, a.forecast_units, a.sku_accuracy, a.mase
           FROM marts.fct_forecast_accuracy a
           LEFT JOIN marts.dim_products p ON p.merchant_id = a.merchant_id AND p.sku_code = a.sku_code
           WHERE a.merchant_id = ? AND a.as_of = ?
           ORDER BY a.actual_units DESC, a.sku_code""",
        (merchant_id, as_of),
    )


def sku_backtest(merchant_id: int, sku_code: str, as_of: date) -> pd.DataFrame:
    """The chosen model's errors and interval coverage at the last backtest origin, per horizon bucket."""
    return _query_frame(
        """SELECT horizon_bucket, model, origin, n_points, actual_units, forecast_units, wape, mase, bias,
                  coverage_80, coverage_95
           FROM ml.forecast_backtests
           WHERE merchant_id = ? AND sku_code = ? AND as_of = ? AND chosen
             AND origin = (SELECT max(origin) FROM ml.forecast_backtests WHERE merchant_id = ? AND as_of = ?)""",
        (merchant_id, sku_code, as_of, merchant_id, as_of),
    )


def replenishment_suggestions(merchant_id: int) -> pd.DataFrame:
    """The newest suggestions that order something, by supplier, with the figures that explain each."""
    return _query_frame(
        """SELECT supplier_code, supplier_name, sku_code, sku_name, warehouse_code, abc_class, lead_time_days,
                  review_period_days, forecast_lead_time_demand, safety_stock, reorder_point, on_hand, available,
                  on_order, min_order_qty, order_multiple, suggested_qty, unit_cost, suggested_value, cap_applied,
                  shelf_life_cap, days_of_cover, reason, as_of
           FROM marts.fct_replenishment_suggestions
           WHERE merchant_id = ? AND suggested_qty > 0
             AND as_of = (SELECT max(as_of) FROM marts.fct_replenishment_suggestions WHERE merchant_id = ?)
           ORDER BY supplier_name NULLS LAST, supplier_code, suggested_value DESC, sku_code, warehouse_code""",
        (merchant_id, merchant_id),
    )
