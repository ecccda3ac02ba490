"""Altair bar charts of the supplier, finance and customer pages; labels passed in already localized."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboards.charts import DATE_FORMAT, FORECAST_COLOR, HISTORY_COLOR

MONEY_AXIS = ",.0f"


def ranked_bars(
    frame: pd.DataFrame, name: str, value: str, *, name_title: str, value_title: str, value_format: str = MONEY_AXIS
) -> alt.Chart:
    """One horizontal bar per row, the largest on top; values in ¥ unless `value_format` (a d3 format) says else."""
    return (
        alt.Chart(frame)
        .mark_bar(color=HISTORY_COLOR)
        .encode(
            x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=value_format)),
            y=alt.Y(f"{name}:N", title=name_title, sort="-x"),
            tooltip=[
                alt.Tooltip(f"{name}:N", title=name_title),
                alt.Tooltip(f"{value}:Q", title=value_title, format=value_format),
            ],
        )
    )


def cash_flow_chart(weekly: pd.DataFrame, *, week_title: str, net_title: str, balance_title: str) -> alt.LayerChart:
    """Net cash flow per week as bars (orange when money went out), with the balance as a line."""
    x = alt.X("week_start:T", title=week_title, axis=alt.Axis(format=DATE_FORMAT))
    bars = (
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("net_cash_flow:Q", title=net_title, axis=alt.Axis(format=MONEY_AXIS)),
            color=alt.condition("datum.net_cash_flow >= 0", alt.value(HISTORY_COLOR), alt.value(FORECAST_COLOR)),
            tooltip=[
                alt.Tooltip("week_start:T", title=week_title, format=DATE_FORMAT),
                alt.Tooltip("net_cash_flow:Q", title=net_title, format=",.2f"),
                alt.Tooltip("balance:Q", title=balance_title, format=",.2f"),
            ],
        )
    )
    balance = alt.Chart(weekly).mark_line(color="#54A24B").encode(x=x, y=alt.Y("balance:Q", title=balance_title))
    return alt.layer(bars, balance).resolve_scale(y="independent")
