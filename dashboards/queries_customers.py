"""Customer insight queries: value tiers, RFM segments, customer groups and the contact list of one merchant."""

from __future__ import annotations

import pandas as pd

from dashboards.queries import _query_frame

VALUE_TIERS = ("diamond", "gold", "silver", "none")


def value_tiers(merchant_id: int) -> pd.DataFrame:
    """Customers and trailing-window amount per value tier, diamond first."""
    return _query_frame(
        """SELECT value_tier, count(*) AS customers, sum(tier_window_orders) AS tier_window_orders,
                  sum(tier_window_amount) AS tier_window_amount,
                  sum(tier_window_amount) / nullif(sum(sum(tier_window_amount)) OVER (), 0) AS amount_share
           FROM marts.dim_customers
           WHERE merchant_id = ?
           GROUP BY value_tier
           ORDER BY array_position(['diamond', 'gold', 'silver', 'none'], value_tier)""",
        (merchant_id,),
    )


def rfm_segments(merchant_id: int) -> pd.DataFrame:
    """Customers per RFM segment at the merchant's newest scoring, the largest segment first."""
    return _query_frame(
        """SELECT rfm_segment, count(*) AS customers, avg(recency_days) AS recency_days,
                  avg(frequency) AS frequency, sum(monetary) AS monetary
           FROM marts.fct_customer_rfm
           WHERE merchant_id = ? AND as_of = (SELECT max(as_of) FROM marts.fct_customer_rfm WHERE merchant_id = ?)
           GROUP BY rfm_segment
           ORDER BY customers DESC, rfm_segment""",
        (merchant_id, merchant_id),
    )


def customer_groups(merchant_id: int) -> pd.DataFrame:
    """Customers and revenue per customer type, township and purchase rhythm."""
    return _query_frame(
        """SELECT customer_type, region, habit_segment, customers, active_customers, sleeping_customers,
                  tiered_customers, revenue, customer_share, revenue_share
           FROM marts.fct_customer_segments
           WHERE merchant_id = ?
             AND as_of = (SELECT max(as_of) FROM marts.fct_customer_segments WHERE merchant_id = ?)
           ORDER BY revenue DESC, customer_type, region, habit_segment""",
        (merchant_id, merchant_id),
    )


def contact_list(merchant_id: int) -> pd.DataFrame:
    """Every customer with what a follow-up call needs: tier, RFM segment, last purchase, sleeping or not."""
    return _query_frame(
        """SELECT c.customer_code, c.customer_name, c.customer_type, c.region, c.value_tier, r.rfm_segment,
                  r.rfm_cell, c.habit_segment, c.main_category_l1, c.first_purchase_date, c.last_purchase_date,
                  c.days_since_last_purchase, c.orders, c.amount, c.avg_order_value, c.is_sleeping
           FROM marts.dim_customers c
           LEFT JOIN marts.fct_customer_rfm r
             ON r.merchant_id = c.merchant_id AND r.customer_id = c.customer_id AND r.as_of = c.as_of
           WHERE c.merchant_id = ?
           ORDER BY c.amount DESC NULLS LAST, c.customer_code""",
        (merchant_id,),
    )
