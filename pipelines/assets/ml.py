"""ML group: model outputs written to DuckDB ml.*, read back by dbt as a source."""

import dagster as dg
import pandas as pd

from models.forecasting.seasonal_naive import forecast_seasonal_naive
from pipelines import warehouse as duck
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource


@dg.asset(
    key=["ml", "demand_forecasts"],
    group_name="ml",
    kinds={"python", "statsforecast", "duckdb"},
    pool=DUCKDB_WRITER_POOL,
    freshness_policy=freshness.WEEKLY,
    deps=[dg.AssetKey(["marts", "fct_daily_sales"]), dg.AssetKey(["marts", "dim_merchants"])],
    description="Daily demand forecast per merchant × SKU (all warehouses), 90 days after as_of, "
    "with 80% and 95% intervals.",
)
def demand_forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    conn = duck.connect(warehouse.warehouse_path())
    try:
        merchants = conn.execute("SELECT merchant_id, merchant_code, as_of FROM marts.dim_merchants").df()
        sales = conn.execute("SELECT merchant_id, sku_code, sales_date, quantity FROM marts.fct_daily_sales").df()
        as_of_by_merchant = {
            int(row.merchant_id): pd.Timestamp(row.as_of).date()
            for row in merchants.itertuples()
            if pd.notna(row.as_of)
        }
        forecasts = forecast_seasonal_naive(sales, as_of_by_merchant)
        forecasts = forecasts.merge(merchants[["merchant_id", "merchant_code"]], on="merchant_id")
        forecasts["warehouse_code"] = None
        forecasts["run_id"] = context.run_id
        replaced = merchants[merchants["merchant_id"].isin(as_of_by_merchant)][["merchant_id", "as_of"]]
        with duck.transaction(conn):
            duck.create_ml_tables(conn)
            conn.register("replaced_as_of", replaced)
            conn.execute(
                "DELETE FROM ml.demand_forecasts f USING replaced_as_of r"
                " WHERE f.merchant_id = r.merchant_id AND f.as_of = r.as_of"
            )
            conn.register("new_forecasts", forecasts)
            conn.execute(
                """INSERT INTO ml.demand_forecasts
                   SELECT merchant_id, merchant_code, sku_code, warehouse_code, date, yhat,
                          yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95,
                          model, model_version, run_id, as_of
                   FROM new_forecasts"""
            )
    finally:
        conn.close()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(forecasts),
            "series": int(forecasts[["merchant_id", "sku_code"]].drop_duplicates().shape[0]),
            "preview": dg.MetadataValue.md(forecasts.head(10).to_markdown(index=False)),
        }
    )
