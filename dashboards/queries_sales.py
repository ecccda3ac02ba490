"""Queries of the Sales (销售分析) and Funnel (转化漏斗) pages, on the read-only serving copy.

Same rules as `dashboards.queries`: constant SQL with `?` parameters, every query filtered by the
session's merchant_id, cached per (SQL, parameters, file version).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.queries import _query_frame

SALES_PERIODS = ("day", "week", "month", "quarter")
RANKING_PERIODS = ("week", "month", "quarter")
CATEGORY_LEVELS = (1, 2, 3)


def first_sales_day(merchant_id: int) -> date | None:
    frame = _query_frame(
        """SELECT min(period_start) AS first_day FROM marts.fct_merchant_period_sales
           WHERE merchant_id = ? AND period = 'day'""",
        (merchant_id,),
    )
    first = frame["first_day"].iloc[0]
    return None if pd.isna(first) else pd.Timestamp(first).date()


def merchant_period_sales(merchant_id: int, period: str, first_day: date, last_day: date) -> pd.DataFrame:
    """Orders, revenue and profit per period overlapping [first_day, last_day] (whole periods, so the first
    and last may reach outside it)."""
    return _query_frame(
        """SELECT period_start, period_end, is_complete_period, orders, customers, new_customers, revenue,
                  gross_profit, average_order_value
           FROM marts.fct_merchant_period_sales
           WHERE merchant_id = ? AND period = ? AND period_end >= ? AND period_start <= ?
           ORDER BY period_start""",
        (merchant_id, period, first_day, last_day),
    )


def ranking_period_starts(merchant_id: int, period: str) -> list[date]:
    """The periods with a product ranking, newest first."""
    frame = _query_frame(
        """SELECT DISTINCT period_start FROM marts.fct_product_rankings
           WHERE merchant_id = ? AND period = ? ORDER BY period_start DESC""",
        (merchant_id, period),
    )
    return [pd.Timestamp(day).date() for day in frame["period_start"]]


def product_ranking(merchant_id: int, period: str, period_start: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT r.revenue_rank, r.sku_code, r.sku_name, p.category_l1, r.quantity, r.revenue, r.revenue_share,
                  r.revenue_rank_change, r.is_hot_seller, r.is_slow_seller, r.period_end_on_hand
           FROM marts.fct_product_rankings r
           LEFT JOIN marts.dim_products p ON p.merchant_id = r.merchant_id AND p.product_id = r.product_id
           WHERE r.merchant_id = ? AND r.period = ? AND r.period_start = ?
           ORDER BY r.revenue_rank, r.sku_code""",
        (merchant_id, period, period_start),
    )


def region_sales(merchant_id: int, first_day: date, last_day: date) -> pd.DataFrame:
    """Revenue per customer region over the days of [first_day, last_day], the biggest first."""
    return _query_frame(
        """SELECT region, sum(orders) AS orders, sum(revenue) AS revenue,
                  sum(revenue) / nullif(sum(sum(revenue)) OVER (), 0) AS revenue_share
           FROM marts.fct_region_period_sales
           WHERE merchant_id = ? AND period = 'day' AND period_start BETWEEN ? AND ?
           GROUP BY region ORDER BY revenue DESC, region NULLS LAST""",
        (merchant_id, first_day, last_day),
    )


def category_sales(merchant_id: int, level: int, first_day: date, last_day: date) -> pd.DataFrame:
    """Revenue per category of one level over the days of [first_day, last_day], the biggest first."""
    return _query_frame(
        """SELECT category_code, category_name, parent_category_code, sum(orders) AS orders,
                  sum(quantity) AS quantity, sum(revenue) AS revenue, sum(gross_profit) AS gross_profit,
                  sum(revenue) / nullif(sum(sum(revenue)) OVER (), 0) AS revenue_share
           FROM marts.fct_category_period_sales
           WHERE merchant_id = ? AND category_level = ? AND period = 'day' AND period_start BETWEEN ? AND ?
           GROUP BY category_code, category_name, parent_category_code
           ORDER BY revenue DESC, category_code""",
        (merchant_id, level, first_day, last_day),
    )


def category_sku_sales(
    merchant_id: int, level: int, category_name: str, first_day: date, last_day: date
) -> pd.DataFrame:
    """The SKUs of one category (its Chinese name at `level`) with their sales in [first_day, last_day]."""
    return _query_frame(
        """SELECT p.sku_code, p.sku_name, p.category_l1, p.category_l2, p.category_l3, sum(s.quantity) AS quantity,
                  sum(s.revenue) AS revenue, sum(s.gross_profit) AS gross_profit
           FROM marts.fct_daily_sales s
           JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.product_id = s.product_id
           WHERE s.merchant_id = ? AND s.sales_date BETWEEN ? AND ?
             AND CASE ? WHEN 1 THEN p.category_l1 WHEN 2 THEN p.category_l2 ELSE p.category_l3 END = ?
           GROUP BY p.sku_code, p.sku_name, p.category_l1, p.category_l2, p.category_l3
           ORDER BY revenue DESC, p.sku_code""",
        (merchant_id, first_day, last_day, level, category_name),
    )


def channel_sales(merchant_id: int, first_day: date, last_day: date) -> pd.DataFrame:
    """Revenue per channel over the days of [first_day, last_day], within each of the two channel dimensions
    (price tier: retail, wholesale, member; order source: platform, import)."""
    return _query_frame(
        """SELECT channel_type, channel, sum(orders) AS orders, sum(revenue) AS revenue,
                  sum(revenue) / nullif(sum(sum(revenue)) OVER (PARTITION BY channel_type), 0) AS revenue_share
           FROM marts.fct_channel_period_sales
           WHERE merchant_id = ? AND period = 'day' AND period_start BETWEEN ? AND ?
           GROUP BY channel_type, channel ORDER BY channel_type, revenue DESC, channel""",
        (merchant_id, first_day, last_day),
    )


def funnel_days(merchant_id: int, first_day: date, last_day: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT funnel_date, visit_sessions, product_view_sessions, cart_add_sessions, purchase_sessions,
                  buying_customers, repurchased_customers
           FROM marts.fct_funnel_daily
           WHERE merchant_id = ? AND funnel_date BETWEEN ? AND ?
           ORDER BY funnel_date""",
        (merchant_id, first_day, last_day),
    )


def first_funnel_day(merchant_id: int) -> date | None:
    frame = _query_frame(
        "SELECT min(funnel_date) AS first_day FROM marts.fct_funnel_daily WHERE merchant_id = ?", (merchant_id,)
    )
    first = frame["first_day"].iloc[0]
    return None if pd.isna(first) else pd.Timestamp(first).date()


def funnel_skus(merchant_id: int, first_day: date, last_day: date) -> pd.DataFrame:
    """Each SKU's sessions per stage over [first_day, last_day] and its view → purchase conversion."""
    return _query_frame(
        """SELECT f.sku_code, p.sku_name, sum(f.product_view_sessions) AS product_view_sessions,
                  sum(f.cart_add_sessions) AS cart_add_sessions, sum(f.purchase_sessions) AS purchase_sessions,
                  sum(f.purchase_sessions) / nullif(sum(f.product_view_sessions), 0) AS view_to_purchase_rate
           FROM marts.fct_funnel_sku_daily f
           LEFT JOIN marts.dim_products p ON p.merchant_id = f.merchant_id AND p.product_id = f.product_id
           WHERE f.merchant_id = ? AND f.funnel_date BETWEEN ? AND ?
           GROUP BY f.sku_code, p.sku_name
           ORDER BY product_view_sessions DESC, f.sku_code""",
        (merchant_id, first_day, last_day),
    )


def monthly_repurchase(merchant_id: int) -> pd.DataFrame:
    return _query_frame(
        """SELECT period_start, buying_customers, repurchased_customers, repurchase_rate, new_customers,
                  new_customers_repurchased, new_customer_repurchase_rate, is_complete
           FROM marts.fct_funnel_repurchase
           WHERE merchant_id = ? AND period_grain = 'month'
           ORDER BY period_start""",
        (merchant_id,),
    )
