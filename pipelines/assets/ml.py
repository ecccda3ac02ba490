"""ML group: model outputs written to DuckDB ml.*, read back by dbt as a source."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from models.forecasting.pipeline import MODEL_VERSION, chosen_versus_candidates, forecast_network
from models.replenishment.evaluation import evaluate_replenishment
from models.replenishment.plan import RECENT_DEMAND_DAYS, plan_replenishment
from models.replenishment.replay_defaults import DEFAULT_DAYS, DEFAULT_MAX_SKUS, REFIT_EVERY_DAYS
from models.replenishment.replay_inputs import (
    CoopcastForecaster,
    build_replay_data,
    replay_start,
)
from pipelines import warehouse as duck
from pipelines.assets.forecast_inputs import (
    DEMAND_DRIVER_INPUTS,
    FORECAST_INPUTS,
    read_demand_drivers,
    read_forecast_inputs,
)
from pipelines.assets.merchant_fan_out import PER_MERCHANT_SERIES_FITS, FanOutFitter
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

DEMAND_FORECASTS = dg.AssetKey(["ml", "demand_forecasts"])
DEMAND_FORECAST_PERIODS = dg.AssetKey(["ml", "demand_forecast_periods"])
FORECAST_BACKTESTS = dg.AssetKey(["ml", "forecast_backtests"])
FORECAST_KINDS = {"python", "statsforecast", "duckdb"}
PREVIEW_ROWS = 10

DEMAND_FORECAST_COLUMNS = """merchant_id, merchant_code, sku_code, warehouse_code, date, yhat,
    yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model, model_version, run_id, as_of"""
DEMAND_FORECAST_PERIOD_COLUMNS = """merchant_id, merchant_code, sku_code, as_of, period_grain, period_start, period_end,
    days_covered, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model, model_version, run_id"""
FORECAST_BACKTEST_COLUMNS = """merchant_id, merchant_code, sku_code, model, origin, horizon_bucket,
    mase, wape, bias, coverage_80, coverage_95, n_points, chosen, model_version, run_id, as_of, rmsse, rmse,
    actual_units, forecast_units"""


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
    """One of the forecast run's tables: written together, so grouped, fed and refreshed alike."""
    return dg.AssetSpec(
        key,
        group_name="ml",
        kinds=FORECAST_KINDS,
        freshness_policy=freshness.WEEKLY,
        deps=[*FORECAST_INPUTS, PER_MERCHANT_SERIES_FITS],
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
            DEMAND_FORECAST_PERIODS,
            "The daily demand forecast summed per ISO week and calendar month, with 80% and 95% "
            "intervals from the backtest's errors of 7-day and 28-day sums.",
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
        inputs = read_forecast_inputs(conn)
        as_of_by_merchant = inputs.as_of_by_merchant
        fitter = FanOutFitter(warehouse.forecast_fan_out_dir(), inputs.merchant_codes)
        network = forecast_network(
            inputs.sales, as_of_by_merchant, categories=inputs.categories, fit_series=fitter, drivers=inputs.drivers
        )
        codes = inputs.merchants[["merchant_id", "merchant_code"]]
        forecasts = network.forecasts.merge(codes, on="merchant_id").assign(warehouse_code=None, run_id=context.run_id)
        periods = network.periods.merge(codes, on="merchant_id").assign(run_id=context.run_id)
        backtests = network.backtests.merge(codes, on="merchant_id").assign(run_id=context.run_id)
        replaced = inputs.merchants[inputs.merchants["merchant_id"].isin(as_of_by_merchant)][["merchant_id", "as_of"]]
        with duck.transaction(conn):
            duck.create_ml_tables(conn)
            replace_as_of_rows(conn, "ml.demand_forecasts", DEMAND_FORECAST_COLUMNS, replaced, forecasts)
            replace_as_of_rows(conn, "ml.demand_forecast_periods", DEMAND_FORECAST_PERIOD_COLUMNS, replaced, periods)
            replace_as_of_rows(conn, "ml.forecast_backtests", FORECAST_BACKTEST_COLUMNS, replaced, backtests)
    finally:
        conn.close()
    yield dg.MaterializeResult(
        asset_key=DEMAND_FORECASTS,
        metadata={
            "dagster/row_count": len(forecasts),
            "series_by_model": dg.MetadataValue.json(series_by_model(forecasts)),
            "timings": dg.MetadataValue.json(network.timings),
            # Whose per-series fits came from their merchant partition, and whose were made in this run.
            "per_series_fits": dg.MetadataValue.json(
                {"from_partitions": fitter.from_partitions, "fitted_here": fitter.fitted_here}
            ),
            "preview": dg.MetadataValue.md(forecasts.head(PREVIEW_ROWS).to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=DEMAND_FORECAST_PERIODS,
        metadata={
            "dagster/row_count": len(periods),
            "preview": dg.MetadataValue.md(periods.head(PREVIEW_ROWS).to_markdown(index=False)),
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


REPLENISHMENT_PLAN = dg.AssetKey(["ml", "replenishment_plan"])
REPLENISHMENT_PLAN_COLUMNS = """merchant_id, merchant_code, product_id, sku_code, warehouse_id, warehouse_code, as_of,
    abc_class, xyz_class, service_level, review_period_days, lead_time_sd_days, shelf_life_days,
    forecast_lead_time_demand, forecast_protection_demand, daily_forecast_error_sd, prebuild_qty, safety_stock,
    reorder_point, order_up_to, position, shelf_life_cap, cap_applied, suggested_qty, days_of_cover, reason,
    reason_zh, forecast_model, forecast_run_id, model_version, run_id"""
PLAN_VERSION = f"periodic-review-1+{MODEL_VERSION}"
PLAN_POSITIONS_SQL = "SELECT * FROM intermediate.int_replenishment_positions_joined"
SUPPLIER_LEAD_TIMES_SQL = (
    "SELECT merchant_id, supplier_code, lead_time_days, deliveries FROM marts.fct_supplier_lead_times"
)
PLAN_PRODUCTS_SQL = "SELECT merchant_id, product_id, shelf_life_days FROM marts.dim_products"
PLAN_CLASSES_SQL = "SELECT merchant_id, sku_code, abc_class, xyz_class FROM marts.fct_product_abc_xyz"
# The forecast and its backtest made at each merchant's current as_of; older as_ofs stay for history.
PLAN_FORECASTS_SQL = """
SELECT f.merchant_id, f.sku_code, f.date, f.yhat, f.model, f.run_id
FROM ml.demand_forecasts f JOIN marts.dim_merchants m ON m.merchant_id = f.merchant_id AND m.as_of = f.as_of
WHERE f.warehouse_code IS NULL
"""
PLAN_BACKTESTS_SQL = """
SELECT b.merchant_id, b.sku_code, b.horizon_bucket, b.rmse, b.chosen
FROM ml.forecast_backtests b JOIN marts.dim_merchants m ON m.merchant_id = b.merchant_id AND m.as_of = b.as_of
WHERE b.chosen
"""
# Series without a backtest take the spread of their last RECENT_DEMAND_DAYS days of sales.
PLAN_DEMAND_SQL = f"""
SELECT s.merchant_id, s.sku_code, s.sales_date AS date, s.quantity
FROM marts.fct_daily_sales s JOIN marts.dim_merchants m ON m.merchant_id = s.merchant_id
WHERE s.sales_date > m.as_of - {RECENT_DEMAND_DAYS} AND s.sales_date <= m.as_of
"""


def write_replenishment_plan(conn: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Plan every position with the policy and replace the plan of each merchant's as_of in ml.replenishment_plan."""
    positions = conn.execute(PLAN_POSITIONS_SQL).df()
    planned = plan_replenishment(
        positions=positions,
        products=conn.execute(PLAN_PRODUCTS_SQL).df(),
        classes=conn.execute(PLAN_CLASSES_SQL).df(),
        supplier_lead_times=conn.execute(SUPPLIER_LEAD_TIMES_SQL).df(),
        forecasts=conn.execute(PLAN_FORECASTS_SQL).df(),
        backtests=conn.execute(PLAN_BACKTESTS_SQL).df(),
        daily_demand=conn.execute(PLAN_DEMAND_SQL).df(),
    ).assign(model_version=PLAN_VERSION, run_id=run_id)
    replaced = positions[["merchant_id", "as_of"]].drop_duplicates()
    with duck.transaction(conn):
        duck.create_ml_tables(conn)
        replace_as_of_rows(conn, "ml.replenishment_plan", REPLENISHMENT_PLAN_COLUMNS, replaced, planned)
    return planned


@dg.asset(
    key=REPLENISHMENT_PLAN,
    group_name="ml",
    kinds={"python", "duckdb"},
    freshness_policy=freshness.WEEKLY,
    deps=[
        dg.AssetKey(["intermediate", "int_replenishment_positions_joined"]),
        dg.AssetKey(["marts", "dim_products"]),
        dg.AssetKey(["marts", "fct_product_abc_xyz"]),
        dg.AssetKey(["marts", "fct_supplier_lead_times"]),
        dg.AssetKey(["marts", "fct_daily_sales"]),
        DEMAND_FORECASTS,
        FORECAST_BACKTESTS,
    ],
    pool=DUCKDB_WRITER_POOL,
    description="The replenishment policy (models/replenishment/policy.py) on every merchant × SKU × warehouse: "
    "service level by ABC-XYZ class, safety stock from the backtest error and the lead time's spread, reorder "
    "point, order-up-to level with seasonal pre-build, pack and MOQ rounding, shelf-life cap, and why.",
)
def replenishment_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    conn = duck.connect(warehouse.warehouse_path())
    try:
        planned = write_replenishment_plan(conn, context.run_id)
    finally:
        conn.close()
    reasons = planned["reason"].value_counts()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(planned),
            "suggested_units": int(planned["suggested_qty"].sum()),
            "reasons": dg.MetadataValue.json({str(reason): int(count) for reason, count in reasons.items()}),
            "preview": dg.MetadataValue.md(
                planned[planned["suggested_qty"] > 0][
                    ["merchant_code", "sku_code", "warehouse_code", "suggested_qty", "reason"]
                ]
                .head(PREVIEW_ROWS)
                .to_markdown(index=False)
            ),
        }
    )


POLICY_EVALUATION = dg.AssetKey(["ml", "policy_evaluation"])
POLICY_EVALUATION_COLUMNS = """merchant_id, merchant_code, policy, abc_class, fill_rate, avg_inventory_value,
    expired_value, stockout_days, orders_placed, turnover, skus, days, model_version, run_id, as_of, warmup_days"""
REPLAY_DEMAND_SQL = "SELECT merchant_code, sku_code, date, demand, sold FROM sim.daily_demand WHERE date <= ?"
REPLAY_PRODUCTS_SQL = """SELECT merchant_id, merchant_code, sku_code, supplier_code, category_l2 AS category,
    unit_cost, shelf_life_days, lead_time_days, min_order_qty, order_multiple FROM marts.dim_products"""
REPLAY_ABC_SQL = "SELECT merchant_id, sku_code, abc_class FROM marts.fct_product_abc_xyz"
REPLAY_STOCK_OUTS_SQL = "SELECT merchant_id, sku_code, stock_out_date FROM marts.fct_stock_out_days"
# Receipts without a purchase order: the opening stock a merchant bought for a SKU it launched.
REPLAY_LAUNCH_STOCK_SQL = """
SELECT p.merchant_id, p.sku_code, CAST(timezone('Asia/Shanghai', m.occurred_at) AS DATE) AS date,
    sum(m.on_hand_delta) AS quantity
FROM raw.stock_movements m
JOIN marts.dim_products p ON p.product_id = m.product_id
WHERE m.movement_type = 'receipt' AND m.purchase_order_id IS NULL
GROUP BY ALL
"""
# Each batch's units on hand (all warehouses) before the first replay day began in Beijing time.
REPLAY_BATCHES_SQL = """
SELECT p.merchant_id, p.sku_code, b.expiry_date, sum(m.on_hand_delta) AS quantity
FROM raw.stock_movements m
JOIN raw.batches b USING (batch_id)
JOIN marts.dim_products p ON p.product_id = m.product_id
WHERE m.occurred_at < timezone('Asia/Shanghai', ?::TIMESTAMP)
GROUP BY ALL
HAVING sum(m.on_hand_delta) > 0
"""
DEFAULT_REVIEW_PERIOD_DAYS = 7
# The replay's version names the forecast it is fed with as well.
EVALUATION_VERSION = f"replay-minmax-vs-coopcast-2+{MODEL_VERSION}"


class PolicyEvaluationConfig(dg.Config):
    days: int = DEFAULT_DAYS
    max_skus: int = DEFAULT_MAX_SKUS
    seed: int = 0
    # Days replayed before the measured ones, so that each policy has shaped its own stock.
    warmup_days: int = 0
    # Days between the coopcast forecaster's refits (replay_defaults.REFIT_EVERY_DAYS).
    refit_days: int = REFIT_EVERY_DAYS


def review_period_days(conn: duckdb.DuckDBPyConnection) -> int:
    """dbt's var review_period_days, the usual period the replenishment positions carry."""
    value = conn.execute(
        "SELECT max(review_period_days) FROM intermediate.int_replenishment_positions_joined"
    ).fetchone()[0]
    return int(value) if value is not None else DEFAULT_REVIEW_PERIOD_DAYS


@dg.asset(
    key=POLICY_EVALUATION,
    group_name="ml",
    kinds={"python", "duckdb"},
    deps=[
        dg.AssetKey(["marts", "dim_products"]),
        dg.AssetKey(["marts", "fct_product_abc_xyz"]),
        dg.AssetKey(["marts", "fct_supplier_lead_times"]),
        dg.AssetKey(["marts", "fct_stock_out_days"]),
        dg.AssetKey(["intermediate", "int_replenishment_positions_joined"]),
        dg.AssetKey(["marts", "dim_merchants"]),
        dg.AssetKey(["raw", "stock_movements"]),
        dg.AssetKey(["raw", "batches"]),
        *DEMAND_DRIVER_INPUTS,
    ],
    pool=DUCKDB_WRITER_POOL,
    description="Proof by simulation: the simulator's true demand of a held-out period replayed day by day "
    "under merchants' min-max policy and coopcast's (forecasting from the sales its own stock allowed, "
    "stock-out days filled), "
    "network-wide per policy × ABC class (and ALL).",
)
def policy_evaluation(
    context: dg.AssetExecutionContext, config: PolicyEvaluationConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    conn = duck.connect(warehouse.warehouse_path())
    try:
        if not duck.has_simulator_truth(conn):
            raise dg.Failure(description=duck.MISSING_TRUTH)
        as_of = conn.execute("SELECT max(as_of) FROM marts.dim_merchants").fetchone()[0]
        replayed_days = config.days + config.warmup_days
        start = replay_start(as_of, replayed_days)
        data = build_replay_data(
            demand=conn.execute(REPLAY_DEMAND_SQL, [as_of]).df(),
            products=conn.execute(REPLAY_PRODUCTS_SQL).df(),
            abc_classes=conn.execute(REPLAY_ABC_SQL).df(),
            supplier_lead_times=conn.execute(SUPPLIER_LEAD_TIMES_SQL).df(),
            batches_at_start=conn.execute(REPLAY_BATCHES_SQL, [start.to_pydatetime()]).df(),
            as_of=as_of,
            days=replayed_days,
            max_skus=config.max_skus,
            seed=config.seed,
            review_period_days=review_period_days(conn),
            stock_outs=conn.execute(REPLAY_STOCK_OUTS_SQL).df(),
            launch_stock=conn.execute(REPLAY_LAUNCH_STOCK_SQL).df(),
        )
        forecaster = CoopcastForecaster(data, refit_every_days=config.refit_days, drivers=read_demand_drivers(conn))
        summary = evaluate_replenishment(
            data.skus,
            data.demand,
            data.start,
            forecaster,
            seed=config.seed,
            initial_batches=data.initial_batches,
            warmup_days=config.warmup_days,
            stock_outs=data.stock_outs,
            launch_stock=data.launch_stock,
        )
        counts = data.skus["abc_class"].value_counts()
        rows = summary.assign(
            merchant_id=None,
            merchant_code=None,
            skus=summary["abc_class"].map(counts).fillna(len(data.skus)).astype(int),
            days=config.days,
            warmup_days=config.warmup_days,
            model_version=EVALUATION_VERSION,
            run_id=context.run_id,
            as_of=as_of,
        )
        with duck.transaction(conn):
            duck.create_ml_tables(conn)
            # Only the latest evaluation is kept: it is a verdict on the current policy, not a history.
            conn.execute("DELETE FROM ml.policy_evaluation")
            conn.register("new_rows", rows)
            conn.execute(
                f"INSERT INTO ml.policy_evaluation ({POLICY_EVALUATION_COLUMNS}) "
                f"SELECT {POLICY_EVALUATION_COLUMNS} FROM new_rows"
            )
            conn.unregister("new_rows")
    finally:
        conn.close()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "skus": len(data.skus),
            "period": f"{data.start.date()} → {as_of}",
            "forecast_seconds": round(forecaster.seconds, 1),
            "summary": dg.MetadataValue.md(summary.to_markdown(index=False, floatfmt=".3f")),
        }
    )
