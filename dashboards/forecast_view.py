"""The demand forecast and the replenishment workbook as the overview and the forecast page show them."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboards import charts, formatting, queries
from dashboards.i18n import current_language, load_locale, t
from dashboards.merchant import Merchant

FORECAST_HISTORY_DAYS = 180
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def model_name(code: str) -> str:
    """A forecast model as a merchant reads it (组合预测, not ensemble); a code with no name yet
    shows as it is."""
    key = f"fc_model_{code}"
    return t(key) if key in load_locale(current_language()) else code


def accuracy_text(value: float) -> str:
    """1 − WAPE as a percentage, from 0: forecasts off by more than what sold read 0 %, not a
    negative accuracy (the help text gives the error itself)."""
    return formatting.percent(max(value, 0.0))


def render_forecast_accuracy(merchant: Merchant) -> None:
    """The merchant's 预测准确率 with its definition one hover away."""
    accuracy = queries.merchant_forecast_accuracy(merchant.merchant_id, merchant.as_of)
    if accuracy is None:
        st.caption(t("forecast_accuracy_missing"))
        return
    value, skus, window_start, window_end = accuracy
    definition = t(
        "forecast_accuracy_help",
        first=formatting.day(window_start + timedelta(days=1)),
        last=formatting.day(window_end),
        skus=skus,
    )
    error = t("forecast_accuracy_error", error=formatting.percent(1 - value))
    st.metric(t("forecast_accuracy"), accuracy_text(value), help=f"{definition} {error}", border=True)


def render_sku_forecast_accuracy(merchant: Merchant, sku_code: str) -> None:
    accuracy = queries.sku_forecast_accuracy(merchant.merchant_id, sku_code, merchant.as_of)
    if accuracy is None:
        return
    value, actual, forecast, window_start, window_end = accuracy
    period = {"first": formatting.day(window_start + timedelta(days=1)), "last": formatting.day(window_end)}
    if actual:
        st.caption(
            t("sku_forecast_accuracy", actual=actual, forecast=forecast, accuracy=accuracy_text(value), **period)
        )
    else:
        st.caption(t("sku_forecast_accuracy_no_sales", forecast=forecast, **period))


def render_sku_forecast(merchant: Merchant, sku_code: str) -> pd.DataFrame:
    """Sold units of the last months, then the forecast in its 80 % and 95 % bands; the forecast rows, maybe none."""
    forecast = queries.sku_forecast(merchant.merchant_id, sku_code, merchant.as_of)
    if forecast.empty:
        st.info(t("no_forecast", as_of=formatting.day(merchant.as_of)))
        return forecast
    first_day = merchant.as_of - timedelta(days=FORECAST_HISTORY_DAYS - 1)
    sold = queries.sku_daily_quantity(merchant.merchant_id, sku_code, first_day, merchant.as_of)
    history = charts.fill_days(sold, "sales_date", "quantity", first_day, merchant.as_of)
    chart = charts.forecast_chart(
        history,
        forecast,
        history_label=t("series_history"),
        forecast_label=t("series_forecast"),
        date_title=t("axis_date"),
        quantity_title=t("axis_quantity"),
    )
    st.altair_chart(chart, width="stretch")
    st.caption(t("forecast_caption", model=model_name(forecast["model"].iloc[0])))
    render_sku_forecast_accuracy(merchant, sku_code)
    return forecast


def render_workbook(merchant: Merchant) -> None:
    """The replenishment workbook `coopcast run` exported for the merchant, with a warning when it is older."""
    workbook = queries.latest_workbook(merchant.merchant_code)
    if workbook is None:
        st.info(t("no_workbook"))
        return
    if workbook.as_of < merchant.as_of:
        st.warning(
            t("workbook_outdated", file_as_of=formatting.day(workbook.as_of), as_of=formatting.day(merchant.as_of))
        )
    st.download_button(
        t("download_replenishment"),
        data=workbook.path.read_bytes(),
        file_name=workbook.path.name,
        mime=XLSX_MIME,
        on_click="ignore",
        icon=":material/download:",
        type="primary",
    )
    st.caption(t("workbook_as_of", as_of=formatting.day(workbook.as_of)))
