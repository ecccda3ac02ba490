"""Price trends (价格趋势): ml.price_trends, ml.price_signals, ml.price_change_points and their evaluation.

Purchase costs and retail shelf prices of every SKU, each merchant's changes up to its own as_of (so
`coopcast run --as-of D` ignores later ones), and network-wide leaf-category indexes built from them.
A run replaces the rows of its as_of, the network's latest merchant as_of.
"""

from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from models.pricing.evaluation import evaluate_change_points, evaluate_outlook
from models.pricing.pipeline import PriceTrendResult, price_trends
from pipelines import warehouse as duck
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

PRICE_TRENDS = dg.AssetKey(["ml", "price_trends"])
PRICE_SIGNALS = dg.AssetKey(["ml", "price_signals"])
PRICE_CHANGE_POINTS = dg.AssetKey(["ml", "price_change_points"])
PRICE_EVALUATION = dg.AssetKey(["ml", "price_evaluation"])
PRICE_VERSION = "stl-ruptures-ar-1"
PREVIEW_ROWS = 10

PRICE_TREND_COLUMNS = """merchant_id, merchant_code, level, sku_code, category_code, price_kind, month, is_outlook,
    price, trend, seasonal, outlook, lower_80, upper_80, lower_95, upper_95, as_of, model_version, run_id,
    decomposition"""
PRICE_SIGNAL_COLUMNS = """merchant_id, merchant_code, level, sku_code, category_code, price_kind, as_of, last_price,
    mom_change, yoy_change, outlook_change, horizon_days, storable, hint, reason, reason_zh, last_change_point,
    change_points, outlook_model, model_version, run_id"""
PRICE_CHANGE_POINT_COLUMNS = """merchant_id, merchant_code, level, sku_code, category_code, price_kind, changed_on,
    step, as_of, model_version, run_id"""
PRICE_EVALUATION_COLUMNS = "as_of, metric, horizon_months, value, detail, model_version, run_id"
NUMBER_COLUMNS = ("price", "trend", "seasonal", "outlook", "lower_80", "upper_80", "lower_95", "upper_95")

# Retail shelf prices are the list price of the base tier: no region, from one unit.
SHELF_PRICE_ROWS = "tier = 'retail' AND region IS NULL AND min_quantity = 1 AND unit_price IS NOT NULL"
PRICE_CHANGES_SQL = f"""
WITH changes AS (
    SELECT merchant_id, product_id, 'cost' AS price_kind, valid_from_date, unit_cost AS unit_price
    FROM staging.stg_postgres__product_cost_history
    UNION ALL
    SELECT merchant_id, product_id, 'selling', valid_from_date, unit_price
    FROM staging.stg_postgres__product_price_history
    WHERE {SHELF_PRICE_ROWS}
)
SELECT c.merchant_id, m.merchant_code, p.sku_code, category.category_code, c.price_kind,
       c.valid_from_date AS valid_from, CAST(c.unit_price AS DOUBLE) AS unit_price
FROM changes c
JOIN marts.dim_merchants m USING (merchant_id)
JOIN staging.stg_postgres__products p USING (product_id)
JOIN staging.stg_postgres__categories category ON category.category_id = p.category_id
WHERE m.as_of IS NOT NULL AND c.valid_from_date <= m.as_of
"""
PRODUCTS_SQL = "SELECT merchant_code, sku_code, shelf_life_days, lead_time_days FROM marts.dim_products"
INJECTED_SHOCKS_SQL = """
SELECT subject AS category_code, starts_on, magnitude FROM sim.anomalies
WHERE kind = 'price_shock' AND starts_on <= ?
"""


def read_inputs(conn: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    changes = conn.execute(PRICE_CHANGES_SQL).df()
    changes["valid_from"] = pd.to_datetime(changes["valid_from"]).astype("datetime64[ns]")
    return changes, conn.execute(PRODUCTS_SQL).df()


def network_as_of(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The latest merchant as_of: category indexes span merchants, so they are as of the newest data."""
    return conn.execute("SELECT max(as_of) FROM marts.dim_merchants").fetchone()[0]


def evaluate(conn: duckdb.DuckDBPyConnection, result: PriceTrendResult, as_of: date | None) -> pd.DataFrame:
    """Outlook against no-change on the rolling origins; on a simulated network also the category cost
    indexes' change points against the shocks the simulator injected by as_of."""
    parts = [evaluate_outlook(result.backtest)]
    if duck.has_simulator_truth(conn, "anomalies"):
        injected = conn.execute(INJECTED_SHOCKS_SQL, [as_of]).df()
        found = result.change_points
        found = found[(found["level"] == "category") & (found["price_kind"] == "cost")]
        parts.append(evaluate_change_points(found[["category_code", "changed_on"]], injected))
    return pd.concat(parts, ignore_index=True)


def write_prices(
    conn: duckdb.DuckDBPyConnection, result: PriceTrendResult, evaluation: pd.DataFrame, as_of: date, run_id: str
) -> None:
    """Replace the as_of's rows of the four price tables in one transaction."""
    stamp = {"as_of": as_of, "model_version": PRICE_VERSION, "run_id": run_id}
    merchant_ids = result.signals[["merchant_code", "merchant_id"]].dropna().drop_duplicates()
    change_points = result.change_points.merge(merchant_ids, on="merchant_code", how="left")
    trends = result.trends.astype({column: "float64" for column in NUMBER_COLUMNS})
    tables = (
        ("ml.price_trends", PRICE_TREND_COLUMNS, trends.assign(**stamp)),
        ("ml.price_signals", PRICE_SIGNAL_COLUMNS, result.signals.assign(**stamp)),
        ("ml.price_change_points", PRICE_CHANGE_POINT_COLUMNS, change_points.assign(**stamp)),
        ("ml.price_evaluation", PRICE_EVALUATION_COLUMNS, evaluation.assign(**stamp)),
    )
    with duck.transaction(conn):
        duck.create_ml_tables(conn)
        for table, columns, rows in tables:
            conn.execute(f"DELETE FROM {table} WHERE as_of = ?", [as_of])
            duck.insert_rows(conn, table, columns, rows)


def _price_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        group_name="ml",
        kinds={"python", "statsmodels", "duckdb"},
        freshness_policy=freshness.WEEKLY,
        deps=[
            dg.AssetKey(["staging", "stg_postgres__product_cost_history"]),
            dg.AssetKey(["staging", "stg_postgres__product_price_history"]),
            dg.AssetKey(["marts", "dim_products"]),
            dg.AssetKey(["marts", "dim_merchants"]),
        ],
        description=description,
    )


@dg.multi_asset(
    specs=[
        _price_spec(
            PRICE_TRENDS,
            "Monthly purchase cost and shelf price per SKU and network-wide per leaf-category index: observed "
            "mean, trend and seasonal components, and a 1–3 month outlook with 80% and 95% intervals.",
        ),
        _price_spec(
            PRICE_SIGNALS,
            "Per SKU and category index: last price, month-over-month and year-over-year change, expected change "
            "over the supplier lead time and a 'buy ahead / wait / neutral' hint for storable goods, with why.",
        ),
        _price_spec(PRICE_CHANGE_POINTS, "Lasting steps found in the weekly price level (ruptures), with their size."),
        _price_spec(
            PRICE_EVALUATION,
            "Outlook error against a no-change forecast on rolling origins; on a simulated network, the category "
            "cost change points against the simulator's injected price shocks.",
        ),
    ],
    pool=DUCKDB_WRITER_POOL,
)
def price_trend_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    conn = duck.connect(warehouse.warehouse_path())
    try:
        as_of = network_as_of(conn)
        changes, products = read_inputs(conn)
        # No merchant with data yet (as_of NULL) means no price changes either: the result is empty.
        result = price_trends(changes, products, as_of)
        evaluation = evaluate(conn, result, as_of)
        if as_of is not None:
            write_prices(conn, result, evaluation, as_of, context.run_id)
    finally:
        conn.close()
    yield dg.MaterializeResult(asset_key=PRICE_TRENDS, metadata={"dagster/row_count": len(result.trends)})
    yield dg.MaterializeResult(
        asset_key=PRICE_SIGNALS,
        metadata={
            "dagster/row_count": len(result.signals),
            "hints": dg.MetadataValue.json(
                {str(hint): int(n) for hint, n in result.signals["hint"].value_counts().items()}
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=PRICE_CHANGE_POINTS,
        metadata={"dagster/row_count": len(result.change_points)},
    )
    yield dg.MaterializeResult(
        asset_key=PRICE_EVALUATION,
        metadata={
            "dagster/row_count": len(evaluation),
            "evaluation": dg.MetadataValue.md(evaluation.to_markdown(index=False, floatfmt=".3f")),
        },
    )
