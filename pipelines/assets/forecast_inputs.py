"""What the demand forecast reads from the warehouse, shared by ml/demand_forecasts and ml/forecast_series.

Its demand is the units sold, with the days a SKU had nothing to sell filled with an estimate of
what was asked for (models/forecasting/stock_outs.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from models.forecasting.stock_outs import fill_stock_out_days

FORECAST_INPUTS = [
    dg.AssetKey(["marts", "fct_daily_sales"]),
    dg.AssetKey(["marts", "fct_stock_out_days"]),
    dg.AssetKey(["marts", "dim_merchants"]),
    dg.AssetKey(["marts", "dim_products"]),
]
MERCHANTS_SQL = "SELECT merchant_id, merchant_code, as_of FROM marts.dim_merchants"
SALES_SQL = "SELECT merchant_id, sku_code, sales_date, quantity FROM marts.fct_daily_sales"
STOCK_OUTS_SQL = "SELECT merchant_id, sku_code, stock_out_date AS date FROM marts.fct_stock_out_days"
# Seasons are pooled over the level-2 category (化肥, 种子 …), whose SKUs share a farming calendar.
FORECAST_CATEGORIES_SQL = "SELECT merchant_id, sku_code, category_l2 AS category FROM marts.dim_products"


@dataclass(frozen=True)
class ForecastInputs:
    merchants: pd.DataFrame
    # merchant_id, sku_code, sales_date, quantity: units sold, stock-out days filled
    sales: pd.DataFrame
    categories: pd.DataFrame

    @property
    def as_of_by_merchant(self) -> dict[int, date]:
        """Each merchant's business date; merchants without one (no data yet) are not forecast."""
        return {
            int(row.merchant_id): pd.Timestamp(row.as_of).date()
            for row in self.merchants.itertuples()
            if pd.notna(row.as_of)
        }

    @property
    def merchant_codes(self) -> dict[int, str]:
        return dict(zip(self.merchants["merchant_id"].astype(int), self.merchants["merchant_code"], strict=True))


def read_forecast_inputs(conn: duckdb.DuckDBPyConnection) -> ForecastInputs:
    inputs = ForecastInputs(
        merchants=conn.execute(MERCHANTS_SQL).df(),
        sales=conn.execute(SALES_SQL).df(),
        categories=conn.execute(FORECAST_CATEGORIES_SQL).df(),
    )
    stock_outs = conn.execute(STOCK_OUTS_SQL).df()
    return replace(inputs, sales=fill_stock_out_days(inputs.sales, stock_outs, inputs.as_of_by_merchant))
