"""Churn warnings (客户流失预警): ml.churn_scores and their time-split evaluation, ml.churn_evaluation.

The inputs are read at each merchant's as_of through the intermediate models, which already cut
the data there (so `coopcast run --as-of D` scores as of D), and include imported amount-only
history: a merchant that only imported customer, date and amount gets scores too.
"""

import dagster as dg
import duckdb
import pandas as pd

from models.churn.evaluation import EVALUATION_COLUMNS, evaluate_against_truth, simulator_truth_labels
from models.churn.scoring import SCORE_COLUMNS, ChurnResult, ChurnSettings, score_churn
from pipelines import warehouse as duck
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

CHURN_SCORES = dg.AssetKey(["ml", "churn_scores"])
CHURN_EVALUATION = dg.AssetKey(["ml", "churn_evaluation"])
CHURN_VERSION = "bgnbd-hgb-1"
PREVIEW_ROWS = 10

CHURN_SCORE_COLUMNS = """merchant_id, merchant_code, customer_code, as_of, horizon_days, churn_risk,
    expected_purchases, status, reasons, model_version, run_id, model, p_alive, days_since_last_purchase"""
CHURN_EVALUATION_COLUMNS = """merchant_id, merchant_code, as_of, horizon_days, split_cutoff, truth, model, chosen,
    customers, positives, auc, precision_top_decile, brier, note, model_version, run_id"""

MERCHANTS_SQL = "SELECT merchant_id, merchant_code, as_of FROM marts.dim_merchants WHERE as_of IS NOT NULL"
PURCHASES_SQL = """
SELECT o.merchant_id, m.merchant_code, c.customer_code, o.order_id, o.ordered_date,
       CAST(o.order_amount AS DOUBLE) AS amount,
       o.order_id IN (SELECT order_id FROM staging.stg_postgres__order_discounts) AS discounted
FROM intermediate.int_customer_orders_unioned o
JOIN marts.dim_merchants m USING (merchant_id)
JOIN staging.stg_postgres__customers c ON c.customer_id = o.customer_id
"""
PURCHASE_CATEGORIES_SQL = """
SELECT DISTINCT m.merchant_code, c.customer_code, l.order_id, category.category_code
FROM intermediate.int_order_lines_enriched l
JOIN marts.dim_merchants m USING (merchant_id)
JOIN staging.stg_postgres__customers c ON c.customer_id = l.customer_id
JOIN staging.stg_postgres__products p ON p.product_id = l.product_id
JOIN staging.stg_postgres__categories category ON category.category_id = p.category_id
"""
# Returns asked for by as_of and not refused: a refused return says nothing about the customer's mood.
RETURNS_SQL = """
SELECT m.merchant_code, c.customer_code, r.requested_date AS returned_date,
       CAST(coalesce(r.refund_amount, 0) AS DOUBLE) AS amount
FROM staging.stg_postgres__returns r
JOIN staging.stg_postgres__orders o USING (order_id)
JOIN marts.dim_merchants m ON m.merchant_id = r.merchant_id
JOIN staging.stg_postgres__customers c ON c.customer_id = o.customer_id
WHERE r.requested_date <= m.as_of AND r.return_status <> 'rejected'
"""
# A customer joined when it was created or, for imported history older than its record, when it first bought.
CUSTOMERS_SQL = """
SELECT d.merchant_id, d.merchant_code, d.customer_code,
       least(c.created_date, coalesce(d.first_purchase_date, c.created_date)) AS joined_date
FROM marts.dim_customers d
JOIN staging.stg_postgres__customers c USING (customer_id)
"""
LIFECYCLE_SQL = "SELECT merchant_code, customer_code, churned_on FROM sim.customer_lifecycle"
DATE_COLUMNS = ("ordered_date", "returned_date", "joined_date", "churned_on")


class ChurnConfig(dg.Config):
    horizon_days: int = ChurnSettings.horizon_days


def read_frame(conn: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """A query's rows with its date columns as datetime64[ns], the models' convention."""
    frame = conn.execute(sql).df()
    for column in DATE_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def score_network(conn: duckdb.DuckDBPyConnection, settings: ChurnSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and evaluation rows of every merchant, each at its own as_of.

    Merchants sharing an as_of are scored together, so the network-wide evaluation rows pool them.
    """
    merchants = conn.execute(MERCHANTS_SQL).df()
    purchases = read_frame(conn, PURCHASES_SQL)
    categories = read_frame(conn, PURCHASE_CATEGORIES_SQL)
    returns = read_frame(conn, RETURNS_SQL)
    customers = read_frame(conn, CUSTOMERS_SQL)
    lifecycle = read_frame(conn, LIFECYCLE_SQL) if duck.has_simulator_truth(conn, "customer_lifecycle") else None
    scores, evaluations = [], []
    for as_of, group in merchants.groupby("as_of"):
        codes = set(group["merchant_code"])
        result = score_churn(
            purchases[purchases["merchant_code"].isin(codes)],
            categories[categories["merchant_code"].isin(codes)],
            returns[returns["merchant_code"].isin(codes)],
            customers[customers["merchant_code"].isin(codes)],
            pd.Timestamp(as_of).date(),
            settings,
        )
        scores.append(result.scores)
        evaluations.append(with_simulator_truth(result, lifecycle, settings))
    return concat_or_empty(scores, SCORE_COLUMNS), concat_or_empty(evaluations, EVALUATION_COLUMNS)


def with_simulator_truth(result: ChurnResult, lifecycle: pd.DataFrame | None, settings: ChurnSettings) -> pd.DataFrame:
    """The observed-label evaluation, and where the simulator's lifecycles exist, the same predictions
    scored against who really churned."""
    if lifecycle is None or result.validation.empty:
        return result.evaluation
    cutoff = pd.Timestamp(result.validation["split_cutoff"].iloc[0]).date()
    labels = simulator_truth_labels(lifecycle, cutoff, settings.horizon_days)
    return pd.concat([result.evaluation, evaluate_against_truth(result.validation, labels)], ignore_index=True)


def concat_or_empty(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames stacked; no rows but the columns when no merchant has data yet."""
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def write_churn(conn: duckdb.DuckDBPyConnection, scores: pd.DataFrame, evaluation: pd.DataFrame, run_id: str) -> None:
    """Replace each scored merchant's as_of in ml.churn_scores, and that as_of's evaluation rows."""
    scores = scores.assign(model_version=CHURN_VERSION, run_id=run_id)
    evaluation = evaluation.assign(model_version=CHURN_VERSION, run_id=run_id)
    replaced = conn.execute(MERCHANTS_SQL).df()[["merchant_id", "as_of"]]
    with duck.transaction(conn):
        duck.create_ml_tables(conn)
        conn.register("replaced_as_of", replaced)
        for table in ("ml.churn_scores", "ml.churn_evaluation"):
            conn.execute(
                f"DELETE FROM {table} t USING replaced_as_of r WHERE t.as_of = r.as_of"
                " AND (t.merchant_id = r.merchant_id OR t.merchant_id IS NULL)"
            )
        conn.unregister("replaced_as_of")
        for table, columns, rows in (
            ("ml.churn_scores", CHURN_SCORE_COLUMNS, scores),
            ("ml.churn_evaluation", CHURN_EVALUATION_COLUMNS, evaluation),
        ):
            duck.insert_rows(conn, table, columns, rows)


def _churn_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        group_name="ml",
        kinds={"python", "scikit-learn", "duckdb"},
        freshness_policy=freshness.WEEKLY,
        deps=[
            dg.AssetKey(["intermediate", "int_customer_orders_unioned"]),
            dg.AssetKey(["intermediate", "int_order_lines_enriched"]),
            dg.AssetKey(["marts", "dim_customers"]),
            dg.AssetKey(["marts", "dim_merchants"]),
        ],
        description=description,
    )


@dg.multi_asset(
    specs=[
        _churn_spec(
            CHURN_SCORES,
            "Per merchant × customer at as_of: probability of no purchase within horizon_days (default 90), "
            "expected purchases, status (active, at_risk, sleeping, lost) and the main reasons, from BG/NBD, "
            "a gradient-boosting classifier or their blend, chosen per merchant on a time split.",
        ),
        _churn_spec(
            CHURN_EVALUATION,
            "The churn models' time-split AUC, precision in the top 10% of risk and Brier score, per merchant and "
            "network-wide, against the observed purchases and (simulated networks) the simulator's truth.",
        ),
    ],
    pool=DUCKDB_WRITER_POOL,
)
def churn_scores(context: dg.AssetExecutionContext, config: ChurnConfig, warehouse: WarehouseResource):
    settings = ChurnSettings(horizon_days=config.horizon_days)
    conn = duck.connect(warehouse.warehouse_path())
    try:
        scores, evaluation = score_network(conn, settings)
        write_churn(conn, scores, evaluation, context.run_id)
    finally:
        conn.close()
    network = evaluation[evaluation["merchant_id"].isna()]
    yield dg.MaterializeResult(
        asset_key=CHURN_SCORES,
        metadata={
            "dagster/row_count": len(scores),
            "status": dg.MetadataValue.json(
                {str(status): int(count) for status, count in scores["status"].value_counts().items()}
            ),
            "model": dg.MetadataValue.json(
                {str(model): int(count) for model, count in scores["model"].value_counts().items()}
            ),
            "preview": dg.MetadataValue.md(scores.head(PREVIEW_ROWS).to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=CHURN_EVALUATION,
        metadata={
            "dagster/row_count": len(evaluation),
            "network": dg.MetadataValue.md(network.to_markdown(index=False, floatfmt=".3f")),
        },
    )
