"""Read-only access to the serving copy that the pipeline publishes after each run.

Every query is a constant SQL string with `?` parameters and, apart from the merchant list that
feeds the picker and the check that a table was published, is filtered by merchant_id. Results
are cached per (SQL, parameters, file version): the file's mtime is part of the key, so a newly
published copy is read at once while an unchanged one is not queried again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import streamlit as st

from pipelines import settings
from pipelines.warehouse import sql_text

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")
CACHE_ENTRIES = 512
# The copy being read and the one just published over it (its sessions' queries may still run).
SERVING_VERSIONS_OPEN = 2
SERVING_CATALOG = "serving"


@dataclass(frozen=True)
class SalesTotals:
    revenue: Decimal
    orders: int
    gross_profit: Decimal
    amount_only_revenue: Decimal = Decimal(0)

    @property
    def gross_margin(self) -> Decimal | None:
        """Profit over the revenue it was earned on: amount-only history has no cost, so it is left out."""
        costed_revenue = self.revenue - self.amount_only_revenue
        return self.gross_profit / costed_revenue if costed_revenue else None


@dataclass(frozen=True)
class Workbook:
    path: Path
    as_of: date


def serving_file() -> Path:
    return settings.serving_path()


def serving_available() -> bool:
    return serving_file().is_file()


def published_at() -> datetime:
    """When the pipeline last published the serving copy, in business time."""
    return datetime.fromtimestamp(serving_file().stat().st_mtime, tz=BUSINESS_TIMEZONE)


def _version(path: Path) -> int:
    return path.stat().st_mtime_ns


@st.cache_resource(show_spinner=False, max_entries=SERVING_VERSIONS_OPEN)
def _serving_database(path: str, version: int) -> duckdb.DuckDBPyConnection:
    """One read-only connection per published copy, shared by the server's sessions. Opening the
    file reads its whole catalogue (60 ms on the tiny network's copy, against 1 ms for a cursor),
    which once per query made most of a page's first render. A newer copy has a new version, so
    it gets its own connection; the one of a replaced copy is dropped when evicted (the file it
    reads stays readable until then, as publishing renames over it).

    The copy is attached to an in-memory database of its own rather than opened by path: DuckDB
    hands a process the database it already has open at a path, so while the older copy's
    connection lived, connecting to the path again read the older copy, never the new one."""
    database = duckdb.connect()
    database.execute(f"ATTACH '{sql_text(path)}' AS {SERVING_CATALOG} (READ_ONLY)")
    return database


def _cursor(path: str, version: int) -> duckdb.DuckDBPyConnection:
    """A cursor of its own per query: a DuckDB connection is not safe to share between the threads
    that run the sessions' scripts, its cursors are. A cursor starts in the in-memory catalog, so
    it is pointed at the copy's, where the queries' `marts.` and `ml.` names live."""
    cursor = _serving_database(path, version).cursor()
    cursor.execute(f"USE {SERVING_CATALOG}")
    return cursor


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES)
def _frame(sql: str, params: tuple[object, ...], path: str, version: int) -> pd.DataFrame:
    with _cursor(path, version) as cursor:
        return cursor.execute(sql, list(params)).df()


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES)
def _row(sql: str, params: tuple[object, ...], path: str, version: int) -> tuple:
    """One row with DuckDB's own types (DECIMAL stays Decimal, which .df() would turn into float)."""
    with _cursor(path, version) as cursor:
        return cursor.execute(sql, list(params)).fetchone()


def _query_frame(sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    path = serving_file()
    return _frame(sql, params, str(path), _version(path))


def _query_row(sql: str, params: tuple[object, ...]) -> tuple:
    path = serving_file()
    return _row(sql, params, str(path), _version(path))


def merchants() -> pd.DataFrame:
    """All merchants: the platform admin's picker, and the signed-in merchant's own row."""
    return _query_frame(
        "SELECT merchant_id, merchant_code, merchant_name, as_of FROM marts.dim_merchants ORDER BY merchant_code", ()
    )


def trailing_window(as_of: date, days: int, periods_back: int = 0) -> tuple[date, date]:
    """First and last day of the `days`-day window ending on as_of, shifted back whole windows."""
    last = as_of - timedelta(days=days * periods_back)
    return last - timedelta(days=days - 1), last


def sales_totals(merchant_id: int, first_day: date, last_day: date) -> SalesTotals:
    revenue, orders, gross_profit, amount_only_revenue = _query_row(
        """SELECT coalesce(sum(revenue), 0), coalesce(sum(orders), 0), coalesce(sum(gross_profit), 0),
                  coalesce(sum(amount_only_revenue), 0)
           FROM marts.fct_merchant_daily_sales
           WHERE merchant_id = ? AND sales_date BETWEEN ? AND ?""",
        (merchant_id, first_day, last_day),
    )
    return SalesTotals(Decimal(revenue), int(orders), Decimal(gross_profit), Decimal(amount_only_revenue))


def daily_revenue(merchant_id: int, as_of: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT sales_date, revenue
           FROM marts.fct_merchant_daily_sales
           WHERE merchant_id = ? AND sales_date <= ?
           ORDER BY sales_date""",
        (merchant_id, as_of),
    )


def flagged_stock(merchant_id: int) -> pd.DataFrame:
    """Stock rows of the newest snapshot with any flag set, the riskiest money first."""
    return _query_frame(
        """SELECT f.sku_code, p.sku_name,
                  concat_ws(' / ', p.category_l1, p.category_l2, p.category_l3) AS category,
                  f.warehouse_code, f.on_hand, f.available, f.stock_value, f.days_since_last_sale,
                  coalesce(f.is_slow_moving, false) AS is_slow_moving,
                  f.near_expiry_level, f.nearest_expiry_date, f.expired_quantity, f.value_at_risk,
                  coalesce(f.is_low_stock, false) AS is_low_stock,
                  coalesce(f.is_out_of_stock, false) AS is_out_of_stock
           FROM marts.fct_inventory_flags f
           LEFT JOIN marts.dim_products p ON p.merchant_id = f.merchant_id AND p.product_id = f.product_id
           WHERE f.merchant_id = ?
             AND f.as_of = (SELECT max(as_of) FROM marts.fct_inventory_flags WHERE merchant_id = ?)
             AND (f.is_slow_moving OR f.near_expiry_level IS NOT NULL OR f.expired_quantity > 0
                  OR f.is_low_stock OR f.is_out_of_stock)
           ORDER BY f.value_at_risk DESC NULLS LAST, f.sku_code, f.warehouse_code""",
        (merchant_id, merchant_id),
    )


def forecastable_skus(merchant_id: int, as_of: date) -> pd.DataFrame:
    """The merchant's SKUs, best sellers of the last 90 days first, so the default choice matters."""
    first_day, _ = trailing_window(as_of, 90)
    return _query_frame(
        """SELECT p.sku_code, p.sku_name
           FROM marts.dim_products p
           LEFT JOIN marts.fct_daily_sales s
             ON s.merchant_id = p.merchant_id AND s.product_id = p.product_id AND s.sales_date BETWEEN ? AND ?
           WHERE p.merchant_id = ?
           GROUP BY p.sku_code, p.sku_name
           ORDER BY coalesce(sum(s.revenue), 0) DESC, p.sku_code""",
        (first_day, as_of, merchant_id),
    )


def sku_daily_quantity(merchant_id: int, sku_code: str, first_day: date, last_day: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT sales_date, sum(quantity) AS quantity
           FROM marts.fct_daily_sales
           WHERE merchant_id = ? AND sku_code = ? AND sales_date BETWEEN ? AND ?
           GROUP BY sales_date ORDER BY sales_date""",
        (merchant_id, sku_code, first_day, last_day),
    )


def sku_forecast(merchant_id: int, sku_code: str, as_of: date) -> pd.DataFrame:
    """The forecast made at the merchant's current as_of for all warehouses together."""
    return _query_frame(
        """SELECT date, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, model, model_version
           FROM ml.demand_forecasts
           WHERE merchant_id = ? AND sku_code = ? AND as_of = ? AND warehouse_code IS NULL
           ORDER BY date""",
        (merchant_id, sku_code, as_of),
    )


def merchant_forecast_accuracy(merchant_id: int, as_of: date) -> tuple | None:
    """(forecast_accuracy, skus, window_start, window_end) of the forecast made at as_of, or None."""
    return _query_row(
        """SELECT forecast_accuracy, skus, window_start, window_end
           FROM marts.fct_merchant_forecast_accuracy WHERE merchant_id = ? AND as_of = ?""",
        (merchant_id, as_of),
    )


def sku_forecast_accuracy(merchant_id: int, sku_code: str, as_of: date) -> tuple | None:
    """(sku_accuracy, actual_units, forecast_units, window_start, window_end) of one SKU, or None."""
    return _query_row(
        """SELECT sku_accuracy, actual_units, forecast_units, window_start, window_end
           FROM marts.fct_forecast_accuracy WHERE merchant_id = ? AND sku_code = ? AND as_of = ?""",
        (merchant_id, sku_code, as_of),
    )


def latest_workbook(merchant_code: str) -> Workbook | None:
    """The merchant's newest replenishment workbook written by `coopcast run` (by as_of in its name)."""
    pattern = re.compile(rf"replenishment_{re.escape(merchant_code)}_(\d{{4}}-\d{{2}}-\d{{2}})\.xlsx")
    exports = settings.exports_dir()
    found = [
        Workbook(path, date.fromisoformat(match.group(1)))
        for path in (exports.iterdir() if exports.is_dir() else ())
        if (match := pattern.fullmatch(path.name))
    ]
    return max(found, key=lambda workbook: workbook.as_of, default=None)


def churn_scores(merchant_id: int, as_of: date) -> pd.DataFrame:
    """Every customer's churn risk scored at the merchant's as_of, the riskiest first."""
    return _query_frame(
        """SELECT s.customer_code, c.customer_name, c.value_tier, s.status, s.days_since_last_purchase,
                  s.churn_risk, s.expected_purchases, s.reasons, s.horizon_days
           FROM ml.churn_scores s
           LEFT JOIN marts.dim_customers c ON c.merchant_id = s.merchant_id AND c.customer_code = s.customer_code
           WHERE s.merchant_id = ? AND s.as_of = ?
           ORDER BY s.churn_risk DESC, s.customer_code""",
        (merchant_id, as_of),
    )


def churn_validation(merchant_id: int, as_of: date) -> tuple | None:
    """(auc, chosen model, customers, churners, split cutoff) against observed purchases, or None."""
    row = _query_row(
        """SELECT max(auc) FILTER (WHERE model = 'chosen'),
                  max(model) FILTER (WHERE chosen AND model <> 'chosen'),
                  max(customers) FILTER (WHERE model = 'chosen'),
                  max(positives) FILTER (WHERE model = 'chosen'),
                  max(split_cutoff)
           FROM ml.churn_evaluation
           WHERE merchant_id = ? AND as_of = ? AND truth = 'observed'""",
        (merchant_id, as_of),
    )
    return None if row is None or row[0] is None or pd.isna(row[0]) else row


# Price rows carry the network's as_of, which may be later than this merchant's own: the newest wins.
LATEST_PRICE_SIGNALS = "(SELECT max(as_of) FROM ml.price_signals WHERE merchant_id = ? AND level = 'sku')"


def price_skus(merchant_id: int) -> pd.DataFrame:
    """The merchant's SKUs that have a price signal, by name."""
    return _query_frame(
        f"""SELECT DISTINCT s.sku_code, coalesce(p.sku_name, s.sku_code) AS sku_name
            FROM ml.price_signals s
            LEFT JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.sku_code = s.sku_code
            WHERE s.merchant_id = ? AND s.level = 'sku' AND s.as_of = {LATEST_PRICE_SIGNALS}
            ORDER BY sku_name, s.sku_code""",
        (merchant_id, merchant_id),
    )


def price_trend(merchant_id: int, sku_code: str, price_kind: str) -> pd.DataFrame:
    """Monthly prices with their trend, then the outlook months with their 80% and 95% bands."""
    return _query_frame(
        """SELECT month, is_outlook, price, trend, outlook, lower_80, upper_80, lower_95, upper_95
           FROM ml.price_trends
           WHERE merchant_id = ? AND level = 'sku' AND sku_code = ? AND price_kind = ?
             AND as_of = (SELECT max(as_of) FROM ml.price_trends WHERE merchant_id = ? AND level = 'sku')
           ORDER BY month""",
        (merchant_id, sku_code, price_kind, merchant_id),
    )


def price_signal(merchant_id: int, sku_code: str, price_kind: str) -> pd.DataFrame:
    """The newest signal of one SKU and price kind: zero or one row."""
    return _query_frame(
        f"""SELECT as_of, last_price, mom_change, yoy_change, outlook_change, horizon_days, hint, reason, reason_zh,
                   last_change_point
            FROM ml.price_signals
            WHERE merchant_id = ? AND level = 'sku' AND sku_code = ? AND price_kind = ?
              AND as_of = {LATEST_PRICE_SIGNALS}""",
        (merchant_id, sku_code, price_kind, merchant_id),
    )


def price_hints(merchant_id: int) -> pd.DataFrame:
    """The merchant's SKUs whose newest signal says buy ahead or wait, the biggest expected change first."""
    return _query_frame(
        f"""SELECT s.sku_code, coalesce(p.sku_name, s.sku_code) AS sku_name, s.price_kind, s.hint,
                   s.last_price, s.outlook_change, s.horizon_days, s.reason, s.reason_zh
            FROM ml.price_signals s
            LEFT JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.sku_code = s.sku_code
            WHERE s.merchant_id = ? AND s.level = 'sku' AND s.hint IN ('buy_ahead', 'wait')
              AND s.as_of = {LATEST_PRICE_SIGNALS}
            ORDER BY abs(s.outlook_change) DESC NULLS LAST, s.sku_code, s.price_kind""",
        (merchant_id, merchant_id),
    )


def category_index(merchant_id: int, sku_code: str, price_kind: str) -> tuple | None:
    """(category name, mom_change, outlook_change, horizon_days) of the network-wide index of the SKU's category.

    Only reached through the merchant's own SKU, so a merchant sees the indexes of its own categories only.
    """
    return _query_row(
        f"""SELECT coalesce(p.category_l3, c.category_code), c.mom_change, c.outlook_change, c.horizon_days
            FROM ml.price_signals s
            JOIN ml.price_signals c
              ON c.level = 'category' AND c.merchant_id IS NULL AND c.category_code = s.category_code
             AND c.price_kind = s.price_kind AND c.as_of = s.as_of
            LEFT JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.sku_code = s.sku_code
            WHERE s.merchant_id = ? AND s.level = 'sku' AND s.sku_code = ? AND s.price_kind = ?
              AND s.as_of = {LATEST_PRICE_SIGNALS}""",
        (merchant_id, sku_code, price_kind, merchant_id),
    )


def published(schema: str, table: str) -> bool:
    """Whether the serving copy holds the table: a copy published by an older version may lack it."""
    (found,) = _query_row(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", (schema, table)
    )
    return bool(found)
