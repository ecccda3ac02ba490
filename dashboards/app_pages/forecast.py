"""预测与补货 / Forecast & replenishment: each SKU's forecast with its intervals and backtest accuracy,
and the replenishment suggestions by supplier, with quantities the merchant can adjust before ordering."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import approvals, forecast_view, formatting, queries, url_filters
from dashboards import queries_forecast as forecasting
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.merchant import Merchant, current_merchant
from dashboards.page_parts import money_metric

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

# The quantity the merchant edits; it starts at the suggestion.
ORDER_QTY = "order_qty"
ORDER_VALUE = "order_value"


def choose_sku(merchant: Merchant) -> str | None:
    skus = queries.forecastable_skus(merchant.merchant_id, merchant.as_of)
    if skus.empty:
        st.info(t("no_products"))
        return None
    names = dict(zip(skus["sku_code"], skus["sku_name"], strict=True))
    return st.selectbox(
        t("forecast_sku"),
        list(names),
        format_func=lambda code: f"{code} · {names[code]}",
        **url_filters.one_of("fc_sku", list(names), next(iter(names))),
    )


def forecast_columns() -> dict[str, ColumnConfig]:
    return {
        "date": tb.day("axis_date"),
        "yhat": tb.decimal("fc_col_forecast"),
        "yhat_lower_80": tb.decimal("fc_col_lower_80"),
        "yhat_upper_80": tb.decimal("fc_col_upper_80"),
        "yhat_lower_95": tb.decimal("fc_col_lower_95"),
        "yhat_upper_95": tb.decimal("fc_col_upper_95"),
    }


def backtest_columns() -> dict[str, ColumnConfig]:
    return {
        "horizon_bucket": tb.text("fc_col_horizon"),
        "actual_units": tb.decimal("fc_col_actual_units"),
        "forecast_units": tb.decimal("fc_col_forecast_units"),
        "wape": tb.share("fc_col_wape", help=t("fc_wape_help")),
        "mase": st.column_config.NumberColumn(t("fc_col_mase"), format="%.2f", help=t("fc_mase_help")),
        "coverage_80": tb.share("fc_col_coverage_80", help=t("fc_coverage_help")),
        "coverage_95": tb.share("fc_col_coverage_95", help=t("fc_coverage_help")),
    }


def render_backtest(merchant: Merchant, sku_code: str) -> None:
    backtest = forecasting.sku_backtest(merchant.merchant_id, sku_code, merchant.as_of)
    st.markdown(f"**{t('fc_backtest')}**")
    if not backtest.empty:
        st.caption(t("fc_backtest_caption", origin=formatting.day(backtest["origin"].iloc[0])))
    order = {bucket: position for position, bucket in enumerate(forecasting.HORIZON_BUCKETS)}
    shown = backtest.sort_values("horizon_bucket", key=lambda buckets: buckets.map(order)).assign(
        horizon_bucket=lambda frame: tb.coded(frame["horizon_bucket"], "fc_horizon")
    )
    tb.show_table(
        shown,
        backtest_columns(),
        stem=tb.file_stem(f"backtest_{sku_code}", merchant),
        key="fc_backtest_download",
        empty_key="fc_no_backtest",
    )


def render_forecast(merchant: Merchant) -> None:
    st.subheader(t("demand_forecast"))
    forecast_view.render_forecast_accuracy(merchant)
    st.caption(t("fc_accuracy_reading"))
    sku_code = choose_sku(merchant)
    if sku_code is None:
        return
    forecast = forecast_view.render_sku_forecast(merchant, sku_code)
    if forecast.empty:
        return
    with st.expander(t("fc_forecast_table")):
        tb.show_table(
            forecast,
            forecast_columns(),
            stem=tb.file_stem(f"forecast_{sku_code}", merchant),
            key="fc_forecast_download",
            empty_key="fc_no_forecast_rows",
        )
    render_backtest(merchant, sku_code)


def render_accuracy_table(merchant: Merchant) -> None:
    st.subheader(t("fc_accuracy_by_sku"))
    columns = {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "actual_units": tb.decimal("fc_col_actual_units"),
        "forecast_units": tb.decimal("fc_col_forecast_units"),
        "sku_accuracy": tb.share("fc_col_sku_accuracy", help=t("fc_sku_accuracy_help")),
        "mase": st.column_config.NumberColumn(t("fc_col_mase"), format="%.2f", help=t("fc_mase_help")),
        "model": tb.text("fc_col_model"),
    }
    accuracy = forecasting.sku_accuracy_table(merchant.merchant_id, merchant.as_of)
    tb.show_table(
        # From 0, as the merchant's figure: the forecast and sold units beside it show how far off.
        accuracy.assign(
            model=accuracy["model"].map(forecast_view.model_name), sku_accuracy=accuracy["sku_accuracy"].clip(lower=0)
        ),
        columns,
        stem=tb.file_stem("forecast_accuracy", merchant),
        key="fc_accuracy_download",
        empty_key="fc_no_accuracy",
    )


def suggestion_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "warehouse_code": tb.text("col_warehouse"),
        "reason": tb.text("fc_col_reason"),
        "forecast_lead_time_demand": tb.decimal("fc_col_lead_time_demand", help=t("fc_lead_time_demand_help")),
        "safety_stock": tb.decimal("fc_col_safety_stock", help=t("fc_safety_stock_help")),
        "on_hand": tb.whole("col_on_hand"),
        "available": tb.whole("col_available"),
        "on_order": tb.whole("fc_col_on_order"),
        "reorder_point": tb.decimal("fc_col_reorder_point", help=t("fc_reorder_point_help")),
        "suggested_qty": tb.whole("fc_col_suggested_qty", help=t("fc_suggested_qty_help")),
        ORDER_QTY: st.column_config.NumberColumn(
            t("fc_col_order_qty"), min_value=0, step=1, format="%,d", help=t("fc_order_qty_help")
        ),
        "unit_cost": tb.money("fc_col_unit_cost"),
        ORDER_VALUE: tb.money("fc_col_order_value"),
        "cap_applied": tb.flag("fc_col_cap_applied"),
        "days_of_cover": tb.decimal("fc_col_days_of_cover", help=t("fc_days_of_cover_help")),
    }


def edit_supplier_order(merchant: Merchant, supplier: str, lines: pd.DataFrame) -> pd.DataFrame:
    """The supplier's suggestions in an editor where only the quantity to order can change."""
    columns = suggestion_columns()
    editable = lines.assign(**{ORDER_QTY: lines["suggested_qty"]})[list(columns)]
    edited = st.data_editor(
        editable,
        hide_index=True,
        column_config=columns,
        disabled=[column for column in columns if column != ORDER_QTY],
        # The merchant is in the key: another merchant's edits must never carry over.
        key=f"fc_order_{merchant.merchant_id}_{supplier}",
    )
    quantities = edited[ORDER_QTY].fillna(0).clip(lower=0).astype(int)
    return edited.assign(
        **{ORDER_QTY: quantities, ORDER_VALUE: quantities * lines["unit_cost"].astype(float).to_numpy()}
    )


def render_suggestions(merchant: Merchant) -> None:
    st.subheader(t("fc_suggestions"))
    st.caption(t("fc_suggestions_caption"))
    suggestions = forecasting.replenishment_suggestions(merchant.merchant_id)
    if suggestions.empty:
        st.success(t("fc_no_suggestions"))
        return
    suggestions = suggestions.assign(
        reason=tb.coded(suggestions["reason"], "fc_reason"),
        supplier_name=suggestions["supplier_name"].fillna(t("fc_no_supplier")),
        **{ORDER_VALUE: suggestions["suggested_value"].astype(float)},
    )
    edited_orders = []
    for supplier, lines in suggestions.groupby("supplier_name", sort=False):
        st.markdown(t("fc_supplier_heading", supplier=supplier, lines=len(lines)))
        edited = edit_supplier_order(merchant, str(supplier), lines)
        st.caption(t("fc_supplier_total", value=formatting.money(edited[ORDER_VALUE].sum())))
        edited_orders.append(edited.assign(supplier_name=supplier, supplier_code=lines["supplier_code"]))
    plan = pd.concat(edited_orders, ignore_index=True)
    total = st.columns(3)
    total[0].metric(t("fc_kpi_lines"), formatting.count(int((plan[ORDER_QTY] > 0).sum())), border=True)
    total[1].metric(t("fc_kpi_suppliers"), formatting.count(suggestions["supplier_name"].nunique()), border=True)
    money_metric(total[2], t("fc_kpi_order_value"), plan[ORDER_VALUE].sum())
    approvals.render_approval(merchant, plan, ORDER_QTY)
    plan_columns = {"supplier_name": tb.text("fc_col_supplier")} | suggestion_columns()
    tb.show_table(
        plan,
        plan_columns,
        stem=tb.file_stem("order_plan", merchant),
        key="fc_plan_download",
        empty_key="fc_no_suggestions",
    )


def render() -> None:
    merchant = current_merchant()
    tb.page_header("fc_title", merchant)
    render_forecast(merchant)
    render_accuracy_table(merchant)
    render_suggestions(merchant)
    st.subheader(t("fc_workbook"))
    forecast_view.render_workbook(merchant)


render()
