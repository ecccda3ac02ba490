"""What the demand forecast reads from the warehouse, shared by ml/demand_forecasts and ml/forecast_series.

Its demand is the units sold, with the days a SKU had nothing to sell filled with an estimate of
what was asked for (models/forecasting/stock_outs.py); what drives demand besides its past is the
promotions and promotion prices known at each merchant's as_of and the SKUs' shelf prices up to it
(models/forecasting/drivers.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from models.forecasting.drivers import DemandDrivers
from models.forecasting.stock_outs import fill_stock_out_days
from pipelines.assets.prices import SHELF_PRICE_ROWS

DEMAND_DRIVER_INPUTS = [
    dg.AssetKey(["intermediate", "int_promotion_products_known"]),
    dg.AssetKey(["intermediate", "int_promotion_prices_known"]),
    dg.AssetKey(["staging", "stg_postgres__product_price_history"]),
]
FORECAST_INPUTS = [
    dg.AssetKey(["marts", "fct_daily_sales"]),
    dg.AssetKey(["marts", "fct_stock_out_days"]),
    dg.AssetKey(["marts", "dim_merchants"]),
    dg.AssetKey(["marts", "dim_products"]),
    *DEMAND_DRIVER_INPUTS,
]
MERCHANTS_SQL = "SELECT merchant_id, merchant_code, as_of FROM marts.dim_merchants"
SALES_SQL = "SELECT merchant_id, sku_code, sales_date, quantity FROM marts.fct_daily_sales"
STOCK_OUTS_SQL = "SELECT merchant_id, sku_code, stock_out_date AS date FROM marts.fct_stock_out_days"
# Seasons are pooled over the level-2 category (化肥, 种子 …), whose SKUs share a farming calendar.
FORECAST_CATEGORIES_SQL = "SELECT merchant_id, sku_code, category_l2 AS category FROM marts.dim_products"
# Promotions and promotion prices (促销价) alike: the drivers take the deepest cut of each day.
PROMOTIONS_SQL = """
WITH promotions AS (
    SELECT merchant_id, product_id, starts_date, ends_date, known_date, percent_off
    FROM intermediate.int_promotion_products_known
    UNION ALL
    SELECT merchant_id, product_id, starts_date, ends_date, known_date, percent_off
    FROM intermediate.int_promotion_prices_known
)
SELECT promotions.merchant_id, products.sku_code, promotions.starts_date, promotions.ends_date,
       promotions.known_date, promotions.percent_off
FROM promotions
JOIN marts.dim_products AS products USING (merchant_id, product_id)
"""
# The shelf price as the price trends read it; changes in the order they were made, up to each
# merchant's as_of.
SHELF_PRICES_SQL = f"""
SELECT prices.merchant_id, products.sku_code, prices.valid_from_date AS valid_from,
       CAST(prices.unit_price AS DOUBLE) AS unit_price
FROM (SELECT * FROM staging.stg_postgres__product_price_history WHERE {SHELF_PRICE_ROWS}) AS prices
JOIN marts.dim_products AS products USING (merchant_id, product_id)
JOIN marts.dim_merchants AS merchants USING (merchant_id)
WHERE prices.valid_from_date <= merchants.as_of
ORDER BY prices.valid_from, prices.price_change_id
"""


@dataclass(frozen=True)
class ForecastInputs:
    merchants: pd.DataFrame
    # merchant_id, sku_code, sales_date, quantity: units sold, stock-out days filled
    sales: pd.DataFrame
    categories: pd.DataFrame
    drivers: DemandDrivers

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
        drivers=read_demand_drivers(conn),
    )
    stock_outs = conn.execute(STOCK_OUTS_SQL).df()
    return replace(inputs, sales=fill_stock_out_days(inputs.sales, stock_outs, inputs.as_of_by_merchant))


def read_demand_drivers(conn: duckdb.DuckDBPyConnection) -> DemandDrivers:
    """The promotions known at each merchant's as_of and the SKUs' shelf prices up to it."""
    return DemandDrivers.from_warehouse(
        promotions=conn.execute(PROMOTIONS_SQL).df(), prices=conn.execute(SHELF_PRICES_SQL).df()
    )
