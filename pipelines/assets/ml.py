"""ML group: model outputs written to DuckDB ml.*, read back by dbt as a source."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from models.forecasting.pipeline import chosen_versus_candidates, forecast_network
from pipelines import warehouse as duck
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

DEMAND_FORECASTS = dg.AssetKey(["ml", "demand_forecasts"])
FORECAST_BACKTESTS = dg.AssetKey(["ml", "forecast_backtests"])
FORECAST_INPUTS = [dg.AssetKey(["marts", "fct_daily_sales"]), dg.AssetKey(["marts", "dim_merchants"])]
FORECAST_KINDS = {"python", "statsforecast", "duckdb"}
PREVIEW_ROWS = 10

DEMAND_FORECAST_COLUMNS = """merchant_id, merchant_code, sku_code, warehouse_code, date, yhat,
    yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model, model_version, run_id, as_of"""
FORECAST_BACKTEST_COLUMNS = """merchant_id, merchant_code, sku_code, model, origin, horizon_bucket,
    mase, wape, bias, coverage_80, coverage_95, n_points, chosen, model_version, run_id, as_of"""


def replace_as_of_rows(
    conn: duckdb.DuckDBPyConnection, table: str, columns: str, replaced: pd.DataFrame, rows: pd.DataFrame
) -> None:
    """Delete `table`'s rows of each merchant's replaced as_of, then insert `rows`; other as_ofs stay."""
    conn.register("replaced_as_of", replaced)
    conn.execute(
        f"DELETE FROM {table} t USING replaced_as_of r WHERE t.merchant_id = r.merchant_id AND t.as_of = r.as_of"
    )
    conn.register("new_rows", rows)
    conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM new_rows")
    conn.unregister("new_rows")
    conn.unregister("replaced_as_of")


def series_by_model(forecasts: pd.DataFrame) -> dict[str, int]:
    """How many series each model (or the ensemble) forecasts."""
    counts = forecasts.drop_duplicates(["merchant_id", "sku_code"])["model"].value_counts()
    return {str(model): int(count) for model, count in sorted(counts.items())}


def _forecast_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    """One of the forecast run's two tables: written together, so grouped, fed and refreshed alike."""
    return dg.AssetSpec(
        key,
        group_name="ml",
        kinds=FORECAST_KINDS,
        freshness_policy=freshness.WEEKLY,
        deps=FORECAST_INPUTS,
        description=description,
    )


@dg.multi_asset(
    specs=[
        _forecast_spec(
            DEMAND_FORECASTS,
            "Daily demand forecast per merchant × SKU (all warehouses), 90 days after as_of, "
            "with 80% and 95% intervals, by the model (or ensemble) each series' backtest chose.",
        ),
        _forecast_spec(
            FORECAST_BACKTESTS,
            "Rolling-origin backtest metrics (MASE, WAPE, bias, interval coverage) per "
            "merchant × SKU × candidate model × origin × horizon bucket, and which option was chosen.",
        ),
    ],
    pool=DUCKDB_WRITER_POOL,
)
def demand_forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    conn = duck.connect(warehouse.warehouse_path())
    try:
        merchants = conn.execute("SELECT merchant_id, merchant_code, as_of FROM marts.dim_merchants").df()
        sales = conn.execute("SELECT merchant_id, sku_code, sales_date, quantity FROM marts.fct_daily_sales").df()
        as_of_by_merchant = {
            int(row.merchant_id): pd.Timestamp(row.as_of).date()
            for row in merchants.itertuples()
            if pd.notna(row.as_of)
        }
        network = forecast_network(sales, as_of_by_merchant)
        codes = merchants[["merchant_id", "merchant_code"]]
        forecasts = network.forecasts.merge(codes, on="merchant_id").assign(warehouse_code=None, run_id=context.run_id)
        backtests = network.backtests.merge(codes, on="merchant_id").assign(run_id=context.run_id)
        replaced = merchants[merchants["merchant_id"].isin(as_of_by_merchant)][["merchant_id", "as_of"]]
        with duck.transaction(conn):
            duck.create_ml_tables(conn)
            replace_as_of_rows(conn, "ml.demand_forecasts", DEMAND_FORECAST_COLUMNS, replaced, forecasts)
            replace_as_of_rows(conn, "ml.forecast_backtests", FORECAST_BACKTEST_COLUMNS, replaced, backtests)
    finally:
        conn.close()
    yield dg.MaterializeResult(
        asset_key=DEMAND_FORECASTS,
        metadata={
            "dagster/row_count": len(forecasts),
            "series_by_model": dg.MetadataValue.json(series_by_model(forecasts)),
            "timings": dg.MetadataValue.json(network.timings),
            "preview": dg.MetadataValue.md(forecasts.head(PREVIEW_ROWS).to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=FORECAST_BACKTESTS,
        metadata={
            "dagster/row_count": len(backtests),
            "last_origin_mase": dg.MetadataValue.md(
                chosen_versus_candidates(network.backtests).to_markdown(index=False, floatfmt=".3f")
            ),
            "preview": dg.MetadataValue.md(backtests.head(PREVIEW_ROWS).to_markdown(index=False)),
        },
    )
