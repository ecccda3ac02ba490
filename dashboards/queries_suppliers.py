"""Suppliers page queries: delivery performance, lead times, prices paid and risks of one merchant."""

from __future__ import annotations

import pandas as pd

from dashboards.queries import _query_frame


def supplier_performance(merchant_id: int, performance_window: str) -> pd.DataFrame:
    """One row per supplier for the window ('trailing' = the last 90 days, 'all_time'), the most delivered first."""
    return _query_frame(
        """SELECT supplier_code, supplier_name, qualification_grade, is_blacklisted, window_days, purchase_orders,
                  open_purchase_orders, deliveries, on_time_deliveries, on_time_rate, delivered_quantity,
                  rejected_quantity, quality_pass_rate, deliveries_with_rejections, delivered_value,
                  agreed_lead_time_days, lead_time_mean_days, lead_time_median_days, lead_time_p90_days,
                  lead_time_max_days, days_late_mean, days_late_max, last_received_date
           FROM marts.fct_supplier_performance
           WHERE merchant_id = ? AND performance_window = ?
           ORDER BY delivered_value DESC NULLS LAST, supplier_code""",
        (merchant_id, performance_window),
    )


def supplier_lead_times(merchant_id: int, supplier_code: str) -> pd.DataFrame:
    """How many deliveries of one supplier took each number of days."""
    return _query_frame(
        """SELECT lead_time_days, deliveries, on_time_deliveries, delivery_share, cumulative_share
           FROM marts.fct_supplier_lead_times
           WHERE merchant_id = ? AND supplier_code = ?
           ORDER BY lead_time_days""",
        (merchant_id, supplier_code),
    )


def supplier_prices(merchant_id: int) -> pd.DataFrame:
    """Prices paid per SKU and supplier beside the cheapest the merchant and the network paid, dearest gap first."""
    return _query_frame(
        """SELECT sku_code, sku_name, spec, supplier_code, supplier_name, purchase_lines, purchased_quantity,
                  last_ordered_date, last_unit_cost, avg_unit_cost, agreed_unit_cost, diff_from_merchant_cheapest,
                  network_suppliers, network_min_last_unit_cost, network_cheapest_supplier_name,
                  diff_from_network_cheapest, pct_above_network_cheapest
           FROM marts.fct_supplier_price_comparison
           WHERE merchant_id = ?
           ORDER BY pct_above_network_cheapest DESC NULLS LAST, sku_code, supplier_code""",
        (merchant_id,),
    )


def risk_register(merchant_id: int) -> pd.DataFrame:
    """The merchant's risks, the highest score first."""
    return _query_frame(
        """SELECT risk_kind, risk_type, subject_code, subject_name, probability, amount_at_stake, impact, urgency,
                  score, risk_level, reason, reason_zh
           FROM marts.fct_risk_register
           WHERE merchant_id = ?
           ORDER BY score DESC, amount_at_stake DESC, subject_code""",
        (merchant_id,),
    )
