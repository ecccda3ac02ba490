"""Finance page queries: profit, commission, settlements, receivables and cash flow of one merchant.

Monthly marts are read from `first_month` (the first day of a month) to the merchant's as_of.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.queries import _query_frame, _query_row


def profit_totals(merchant_id: int, first_month: date) -> tuple:
    """(revenue, costed revenue, gross profit) of the top-level categories, which together hold every line."""
    return _query_row(
        """SELECT coalesce(sum(revenue), 0), coalesce(sum(revenue) FILTER (WHERE cost IS NOT NULL), 0),
                  coalesce(sum(gross_profit), 0)
           FROM marts.fct_profit_by_category
           WHERE merchant_id = ? AND category_level = 1 AND sales_month >= ?""",
        (merchant_id, first_month),
    )


def profit_by_category(merchant_id: int, first_month: date, level: int) -> pd.DataFrame:
    return _query_frame(
        """SELECT category_code, category_name, sum(orders) AS orders, sum(revenue) AS revenue, sum(cost) AS cost,
                  sum(gross_profit) AS gross_profit, sum(gross_profit) / nullif(sum(revenue), 0) AS gross_margin,
                  sum(estimated_cost) AS estimated_cost
           FROM marts.fct_profit_by_category
           WHERE merchant_id = ? AND category_level = ? AND sales_month >= ?
           GROUP BY category_code, category_name
           ORDER BY revenue DESC, category_code""",
        (merchant_id, level, first_month),
    )


def profit_by_customer_type(merchant_id: int, first_month: date) -> pd.DataFrame:
    """Profit per customer type; amount-only revenue has no cost, so the margin is over costed revenue."""
    return _query_frame(
        """SELECT customer_type, sum(orders) AS orders, sum(revenue) AS revenue, sum(cost) AS cost,
                  sum(gross_profit) AS gross_profit,
                  sum(gross_profit) / nullif(sum(revenue) - sum(amount_only_revenue), 0) AS gross_margin,
                  sum(amount_only_revenue) AS amount_only_revenue
           FROM marts.fct_profit_by_customer_group
           WHERE merchant_id = ? AND sales_month >= ?
           GROUP BY customer_type
           ORDER BY revenue DESC, customer_type""",
        (merchant_id, first_month),
    )


def commission_by_category(merchant_id: int, first_month: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT category_l1, category_name, sum(gross_sales) AS gross_sales, sum(commission) AS commission,
                  sum(commission_refunded) AS commission_refunded, sum(net_commission) AS net_commission,
                  sum(commission) / nullif(sum(gross_sales), 0) AS effective_rate
           FROM marts.fct_commission_by_category
           WHERE merchant_id = ? AND posting_month >= ?
           GROUP BY category_l1, category_name
           ORDER BY net_commission DESC, category_name""",
        (merchant_id, first_month),
    )


def settlement_statements(merchant_id: int, first_month: date) -> pd.DataFrame:
    return _query_frame(
        """SELECT period_start, period_end, kind, order_count, refund_count, gross_sales, commission, refunds,
                  net_payable, is_reconciled, payout_due_date, paid_date, payout_amount, payout_status, days_late
           FROM marts.fct_settlement_statements
           WHERE merchant_id = ? AND period_end >= ?
           ORDER BY period_start DESC, kind""",
        (merchant_id, first_month),
    )


def receivables_ageing(merchant_id: int) -> pd.DataFrame:
    return _query_frame(
        """SELECT credit_term, credit_term_days, overdue_bucket, orders, customers, open_amount, oldest_due_date,
                  max_days_overdue
           FROM marts.fct_receivables_ageing
           WHERE merchant_id = ?
           ORDER BY credit_term_days NULLS FIRST, credit_term, overdue_bucket""",
        (merchant_id,),
    )


def open_receivables(merchant_id: int) -> pd.DataFrame:
    """Unpaid orders, the longest overdue first."""
    return _query_frame(
        """SELECT r.order_no, r.customer_code, r.customer_name, r.credit_term, r.receivable_due_date,
                  r.open_amount, r.days_overdue, r.overdue_bucket
           FROM marts.fct_open_receivables r
           WHERE r.merchant_id = ?
           ORDER BY r.days_overdue DESC, r.open_amount DESC, r.order_no""",
        (merchant_id,),
    )


def weekly_cash_flow(merchant_id: int, first_month: date) -> pd.DataFrame:
    """Cash in and out per week; the balance is the platform cash held for the merchant at the week's end."""
    return _query_frame(
        """SELECT week_start, sum(cash_in) AS cash_in, sum(cash_out) AS cash_out, sum(net_cash_flow) AS net_cash_flow,
                  arg_max(platform_cash_balance, cash_date) AS balance
           FROM marts.fct_cash_flow_daily
           WHERE merchant_id = ? AND cash_date >= ?
           GROUP BY week_start
           ORDER BY week_start""",
        (merchant_id, first_month),
    )
