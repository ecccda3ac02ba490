"""Queries of the Products (商品分析) and Inventory (库存管理) pages, on the read-only serving copy.

Same rules as `dashboards.queries`: constant SQL with `?` parameters, every query filtered by the
session's merchant_id, cached per (SQL, parameters, file version). Every table here holds one
merchant's rows at its own as_of only, so the merchant's as_of is the snapshot.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.queries import _query_frame

ABC_CLASSES = ("A", "B", "C")
XYZ_CLASSES = ("X", "Y", "Z")
TURNOVER_WINDOWS = (90, 365)
LOW_STOCK_WINDOW = 90


def abc_xyz(merchant_id: int, as_of: date) -> pd.DataFrame:
    """Every classified SKU, the best sellers first."""
    return _query_frame(
        """SELECT abc_xyz_class, abc_class, xyz_class, sku_code, sku_name, category_l1, category_l3, quantity,
                  revenue, revenue_share, revenue_rank, weeks_with_sales, demand_weeks, demand_cv,
                  window_start_date
           FROM marts.fct_product_abc_xyz
           WHERE merchant_id = ? AND as_of = ?
           ORDER BY revenue_rank, sku_code""",
        (merchant_id, as_of),
    )


def hot_sellers(merchant_id: int, period: str) -> pd.DataFrame:
    """The hot sellers of the newest period of `period` grain with a ranking."""
    return _query_frame(
        """SELECT r.period_start, r.period_end, r.revenue_rank, r.sku_code, r.sku_name, p.category_l1,
                  r.quantity, r.revenue, r.revenue_share, r.revenue_rank_change, r.period_end_on_hand
           FROM marts.fct_product_rankings r
           LEFT JOIN marts.dim_products p ON p.merchant_id = r.merchant_id AND p.product_id = r.product_id
           WHERE r.merchant_id = ? AND r.period = ? AND r.is_hot_seller
             AND r.period_start = (SELECT max(period_start) FROM marts.fct_product_rankings
                                   WHERE merchant_id = ? AND period = ?)
           ORDER BY r.revenue_rank, r.sku_code""",
        (merchant_id, period, merchant_id, period),
    )


def slow_movers(merchant_id: int, as_of: date) -> pd.DataFrame:
    """SKUs with stock and no sale for more than the slow-moving days, the most money tied up first."""
    return _query_frame(
        """SELECT value_rank, sku_code, sku_name, category_l1, category_l3, last_sale_date, days_without_sale,
                  warehouses, on_hand, slow_moving_value, share_of_stock_value
           FROM marts.fct_slow_moving_products
           WHERE merchant_id = ? AND as_of = ?
           ORDER BY value_rank""",
        (merchant_id, as_of),
    )


def stock_positions(merchant_id: int, as_of: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT sku_code, sku_name, warehouse_code, on_hand, sellable, expired_quantity, stock_value,
                  oldest_batch_age_days, average_age_days
           FROM marts.fct_stock_positions
           WHERE merchant_id = ? AND as_of = ?
           ORDER BY sku_code, warehouse_code""",
        (merchant_id, as_of),
    )


def low_stock(merchant_id: int, as_of: date) -> pd.DataFrame:
    """SKU × warehouse low or out of sellable stock at as_of, with their low-stock days of the last 90."""
    return _query_frame(
        """SELECT sku_code, sku_name, warehouse_code, sellable, low_stock_threshold, is_stocked_out,
                  low_stock_days, stock_out_days, observed_days, units_sold, estimated_lost_units
           FROM marts.fct_low_stock_days
           WHERE merchant_id = ? AND as_of = ? AND window_days = ? AND (is_low_stock OR is_stocked_out)
           ORDER BY is_stocked_out DESC, sellable - low_stock_threshold, sku_code, warehouse_code""",
        (merchant_id, as_of, LOW_STOCK_WINDOW),
    )


def stock_ageing(merchant_id: int, as_of: date) -> pd.DataFrame:
    """Units and value per age bucket, youngest first."""
    return _query_frame(
        """SELECT bucket_no, bucket_label, sum(quantity) AS quantity, sum(stock_value) AS stock_value,
                  sum(batches) AS batches, count(DISTINCT sku_code) AS skus
           FROM marts.fct_stock_ageing
           WHERE merchant_id = ? AND as_of = ?
           GROUP BY bucket_no, bucket_label ORDER BY bucket_no""",
        (merchant_id, as_of),
    )


def near_expiry(merchant_id: int, as_of: date) -> pd.DataFrame:
    """Expired and near-expiry batches, the soonest first."""
    return _query_frame(
        """SELECT expiry_class, near_expiry_level, is_expired, sku_code, sku_name, warehouse_code, lot_code,
                  expiry_date, days_to_expiry, on_hand, available, unit_cost, value_at_risk
           FROM marts.fct_near_expiry_batches
           WHERE merchant_id = ? AND as_of = ?
           ORDER BY days_to_expiry, sku_code, warehouse_code, lot_code""",
        (merchant_id, as_of),
    )


def turnover(merchant_id: int, as_of: date, window_days: int) -> pd.DataFrame:
    """SKU turnover over the trailing window, the slowest (low-turnover first, then most days) first."""
    return _query_frame(
        """SELECT sku_code, sku_name, category_l3, units_sold, cogs, average_inventory_value, turnover,
                  turnover_days, category_median_turnover, is_low_turnover, advice_code
           FROM marts.fct_inventory_turnover
           WHERE merchant_id = ? AND as_of = ? AND window_days = ?
           ORDER BY is_low_turnover DESC, turnover_days DESC NULLS FIRST, sku_code""",
        (merchant_id, as_of, window_days),
    )


def merchant_turnover(merchant_id: int, as_of: date, window_days: int) -> pd.DataFrame:
    """Zero or one row: the merchant's turnover over the trailing window."""
    return _query_frame(
        """SELECT turnover, turnover_days, skus, low_turnover_skus, cogs, average_inventory_value
           FROM marts.fct_merchant_inventory_turnover
           WHERE merchant_id = ? AND as_of = ? AND window_days = ?""",
        (merchant_id, as_of, window_days),
    )
