"""Opening the DuckDB warehouse, with the postgres scanner installed from its PyPI wheel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import duckdb_extension_postgres
import pandas as pd

from pipelines.settings import DUCKDB_SCHEMAS


def postgres_extension_file() -> Path:
    """The extension shipped inside the wheel, so no download is ever attempted."""
    package_dir = Path(duckdb_extension_postgres.__file__).parent
    return next(package_dir.glob(f"extensions/v{duckdb.__version__}/postgres.duckdb_extension"))


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path), read_only=read_only)
    # DuckDB draws a progress bar on stdout once a query runs past two seconds; the commands and
    # the pipelines print results there that scripts read, so the bar would land among them.
    conn.execute("SET enable_progress_bar = false")
    return conn


def attach_postgres(conn: duckdb.DuckDBPyConnection, pg_uri: str, alias: str = "pg") -> None:
    conn.execute(f"INSTALL '{postgres_extension_file()}'")
    conn.execute("LOAD postgres")
    conn.execute(f"ATTACH '{sql_text(pg_uri)}' AS {alias} (TYPE postgres, READ_ONLY)")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All statements inside commit together or not at all."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create_schemas(conn: duckdb.DuckDBPyConnection) -> None:
    for schema in DUCKDB_SCHEMAS:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


ML_TABLES_DDL = """
CREATE TABLE IF NOT EXISTS ml.demand_forecasts (
    merchant_id     BIGINT NOT NULL,
    merchant_code   VARCHAR NOT NULL,
    sku_code        VARCHAR NOT NULL,
    warehouse_code  VARCHAR,
    date            DATE NOT NULL,
    yhat            DOUBLE NOT NULL,
    yhat_lower_80   DOUBLE NOT NULL,
    yhat_upper_80   DOUBLE NOT NULL,
    yhat_lower_95   DOUBLE NOT NULL,
    yhat_upper_95   DOUBLE NOT NULL,
    model           VARCHAR NOT NULL,
    model_version   VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    as_of           DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.demand_forecast_periods (
    merchant_id     BIGINT NOT NULL,
    merchant_code   VARCHAR NOT NULL,
    sku_code        VARCHAR NOT NULL,
    as_of           DATE NOT NULL,
    period_grain    VARCHAR NOT NULL CHECK (period_grain IN ('week', 'month')),
    period_start    DATE NOT NULL,
    period_end      DATE NOT NULL,
    days_covered    INTEGER NOT NULL CHECK (days_covered > 0),
    yhat            DOUBLE NOT NULL,
    yhat_lower_80   DOUBLE NOT NULL,
    yhat_upper_80   DOUBLE NOT NULL,
    yhat_lower_95   DOUBLE NOT NULL,
    yhat_upper_95   DOUBLE NOT NULL,
    model           VARCHAR NOT NULL,
    model_version   VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.forecast_backtests (
    merchant_id     BIGINT NOT NULL,
    merchant_code   VARCHAR NOT NULL,
    sku_code        VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,
    origin          DATE NOT NULL,
    horizon_bucket  VARCHAR NOT NULL,
    mase            DOUBLE,
    wape            DOUBLE,
    bias            DOUBLE,
    coverage_80     DOUBLE NOT NULL,
    coverage_95     DOUBLE NOT NULL,
    n_points        INTEGER NOT NULL,
    chosen          BOOLEAN NOT NULL,
    model_version   VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    as_of           DATE NOT NULL,
    rmsse           DOUBLE,
    rmse            DOUBLE,
    actual_units    DOUBLE,
    forecast_units  DOUBLE
);
CREATE TABLE IF NOT EXISTS ml.policy_evaluation (
    merchant_id          BIGINT,
    merchant_code        VARCHAR,
    policy               VARCHAR NOT NULL CHECK (policy IN ('minmax', 'coopcast')),
    abc_class            VARCHAR NOT NULL CHECK (abc_class IN ('A', 'B', 'C', 'ALL')),
    fill_rate            DOUBLE NOT NULL CHECK (fill_rate BETWEEN 0 AND 1),
    avg_inventory_value  DOUBLE NOT NULL,
    expired_value        DOUBLE NOT NULL,
    stockout_days        INTEGER NOT NULL,
    orders_placed        INTEGER NOT NULL,
    turnover             DOUBLE,
    skus                 INTEGER NOT NULL,
    days                 INTEGER NOT NULL,
    model_version        VARCHAR NOT NULL,
    run_id               VARCHAR NOT NULL,
    as_of                DATE NOT NULL,
    warmup_days          INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ml.replenishment_plan (
    merchant_id                 BIGINT NOT NULL,
    merchant_code               VARCHAR NOT NULL,
    product_id                  BIGINT NOT NULL,
    sku_code                    VARCHAR NOT NULL,
    warehouse_id                BIGINT NOT NULL,
    warehouse_code              VARCHAR NOT NULL,
    as_of                       DATE NOT NULL,
    abc_class                   VARCHAR,
    xyz_class                   VARCHAR,
    service_level               DOUBLE NOT NULL,
    review_period_days          INTEGER NOT NULL,
    lead_time_sd_days           DOUBLE NOT NULL,
    shelf_life_days             INTEGER,
    forecast_lead_time_demand   DOUBLE,
    forecast_protection_demand  DOUBLE,
    daily_forecast_error_sd     DOUBLE,
    prebuild_qty                DOUBLE NOT NULL,
    safety_stock                DOUBLE,
    reorder_point               DOUBLE,
    order_up_to                 DOUBLE,
    position                    INTEGER NOT NULL,
    shelf_life_cap              INTEGER,
    cap_applied                 BOOLEAN NOT NULL,
    suggested_qty               INTEGER NOT NULL,
    days_of_cover               DOUBLE,
    reason                      VARCHAR NOT NULL,
    reason_zh                   VARCHAR NOT NULL,
    forecast_model              VARCHAR,
    forecast_run_id             VARCHAR,
    model_version               VARCHAR NOT NULL,
    run_id                      VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.churn_scores (
    merchant_id               BIGINT NOT NULL,
    merchant_code             VARCHAR NOT NULL,
    customer_code             VARCHAR NOT NULL,
    as_of                     DATE NOT NULL,
    horizon_days              INTEGER NOT NULL CHECK (horizon_days > 0),
    churn_risk                DOUBLE NOT NULL CHECK (churn_risk BETWEEN 0 AND 1),
    expected_purchases        DOUBLE NOT NULL CHECK (expected_purchases >= 0),
    status                    VARCHAR NOT NULL CHECK (status IN ('active', 'at_risk', 'sleeping', 'lost')),
    reasons                   VARCHAR[] NOT NULL,
    model_version             VARCHAR NOT NULL,
    run_id                    VARCHAR NOT NULL,
    model                     VARCHAR NOT NULL,
    p_alive                   DOUBLE,
    days_since_last_purchase  INTEGER
);
CREATE TABLE IF NOT EXISTS ml.churn_evaluation (
    merchant_id           BIGINT,
    merchant_code         VARCHAR,
    as_of                 DATE NOT NULL,
    horizon_days          INTEGER NOT NULL,
    split_cutoff          DATE NOT NULL,
    truth                 VARCHAR NOT NULL CHECK (truth IN ('observed', 'simulator')),
    model                 VARCHAR NOT NULL,
    chosen                BOOLEAN NOT NULL,
    customers             INTEGER NOT NULL,
    positives             INTEGER NOT NULL,
    auc                   DOUBLE,
    precision_top_decile  DOUBLE,
    brier                 DOUBLE,
    note                  VARCHAR,
    model_version         VARCHAR NOT NULL,
    run_id                VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.price_trends (
    merchant_id    BIGINT,
    merchant_code  VARCHAR,
    level          VARCHAR NOT NULL CHECK (level IN ('sku', 'category')),
    sku_code       VARCHAR,
    category_code  VARCHAR NOT NULL,
    price_kind     VARCHAR NOT NULL CHECK (price_kind IN ('cost', 'selling')),
    month          DATE NOT NULL,
    is_outlook     BOOLEAN NOT NULL,
    price          DOUBLE,
    trend          DOUBLE,
    seasonal       DOUBLE,
    outlook        DOUBLE,
    lower_80       DOUBLE,
    upper_80       DOUBLE,
    lower_95       DOUBLE,
    upper_95       DOUBLE,
    as_of          DATE NOT NULL,
    model_version  VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    decomposition  VARCHAR
);
CREATE TABLE IF NOT EXISTS ml.price_signals (
    merchant_id        BIGINT,
    merchant_code      VARCHAR,
    level              VARCHAR NOT NULL CHECK (level IN ('sku', 'category')),
    sku_code           VARCHAR,
    category_code      VARCHAR NOT NULL,
    price_kind         VARCHAR NOT NULL CHECK (price_kind IN ('cost', 'selling')),
    as_of              DATE NOT NULL,
    last_price         DOUBLE,
    mom_change         DOUBLE,
    yoy_change         DOUBLE,
    outlook_change     DOUBLE,
    horizon_days       INTEGER,
    storable           BOOLEAN,
    hint               VARCHAR NOT NULL CHECK (hint IN ('buy_ahead', 'wait', 'neutral')),
    reason             VARCHAR NOT NULL,
    reason_zh          VARCHAR NOT NULL,
    last_change_point  DATE,
    change_points      DATE[],
    outlook_model      VARCHAR,
    model_version      VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.price_change_points (
    merchant_id    BIGINT,
    merchant_code  VARCHAR,
    level          VARCHAR NOT NULL CHECK (level IN ('sku', 'category')),
    sku_code       VARCHAR,
    category_code  VARCHAR NOT NULL,
    price_kind     VARCHAR NOT NULL CHECK (price_kind IN ('cost', 'selling')),
    changed_on     DATE NOT NULL,
    step           DOUBLE NOT NULL,
    as_of          DATE NOT NULL,
    model_version  VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.alert_digests (
    merchant_id          BIGINT NOT NULL,
    merchant_code        VARCHAR NOT NULL,
    as_of                DATE NOT NULL,
    kind                 VARCHAR NOT NULL CHECK (kind IN ('low_stock', 'near_expiry', 'churn_risk')),
    item_key             VARCHAR NOT NULL,
    is_new               BOOLEAN NOT NULL,
    near_expiry_level    INTEGER,
    sku_code             VARCHAR,
    sku_name             VARCHAR,
    warehouse_code       VARCHAR,
    lot_code             VARCHAR,
    expiry_date          DATE,
    days_to_expiry       INTEGER,
    quantity             INTEGER,
    low_stock_threshold  INTEGER,
    value_at_risk        DECIMAL(18, 2),
    customer_code        VARCHAR,
    churn_risk           DOUBLE,
    reasons              VARCHAR[],
    model_version        VARCHAR NOT NULL,
    run_id               VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.alert_digest_summaries (
    merchant_id     BIGINT NOT NULL,
    merchant_code   VARCHAR NOT NULL,
    as_of           DATE NOT NULL,
    previous_as_of  DATE,
    flagged_items   INTEGER NOT NULL,
    new_items       INTEGER NOT NULL,
    model_version   VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ml.price_evaluation (
    as_of           DATE NOT NULL,
    metric          VARCHAR NOT NULL,
    horizon_months  INTEGER,
    value           DOUBLE,
    detail          VARCHAR,
    model_version   VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL
)
"""


# Columns added to an ML table after it first shipped: CREATE TABLE IF NOT EXISTS leaves an older
# warehouse's table as it was, so these add them there (columns are only ever added, never renamed).
ML_ADDED_COLUMNS = (
    "ALTER TABLE ml.forecast_backtests ADD COLUMN IF NOT EXISTS rmsse DOUBLE",
    "ALTER TABLE ml.forecast_backtests ADD COLUMN IF NOT EXISTS rmse DOUBLE",
    "ALTER TABLE ml.forecast_backtests ADD COLUMN IF NOT EXISTS actual_units DOUBLE",
    "ALTER TABLE ml.forecast_backtests ADD COLUMN IF NOT EXISTS forecast_units DOUBLE",
    "ALTER TABLE ml.policy_evaluation ADD COLUMN IF NOT EXISTS warmup_days INTEGER DEFAULT 0",
)


MISSING_TRUTH = "the warehouse has no simulator truth (sim.daily_demand): run coopcast simulate and coopcast run first"


def has_simulator_truth(conn: duckdb.DuckDBPyConnection, table: str = "daily_demand") -> bool:
    """Whether the simulator's ground truth `sim.<table>` was ingested with rows: only a simulated
    network has it, so only there can models be scored against the truth."""
    present = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sim' AND table_name = ?", [table]
    ).fetchone()[0]
    return bool(present) and conn.execute(f'SELECT count(*) FROM sim."{table}"').fetchone()[0] > 0


def insert_rows(conn: duckdb.DuckDBPyConnection, table: str, columns: str, rows: pd.DataFrame) -> None:
    """Append a DataFrame's `columns` (a comma-separated list) to `table`; nothing for no rows."""
    if rows.empty:
        return
    conn.register("new_rows", rows)
    try:
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM new_rows")
    finally:
        conn.unregister("new_rows")


def create_ml_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """ML outputs have fixed shapes (DESIGN); creating them up front lets dbt build before any forecast."""
    conn.execute(ML_TABLES_DDL)
    for statement in ML_ADDED_COLUMNS:
        conn.execute(statement)


def sql_text(text: str) -> str:
    """`text` for inside a SQL string literal ('…'), where ATTACH takes no parameters."""
    return text.replace("'", "''")
