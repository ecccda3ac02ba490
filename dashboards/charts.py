"""Altair charts of the overview page; frames in, charts out, labels passed in already localized."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from dashboards import formatting

GRANULARITIES = ("day", "week", "month")
# pandas period codes; weeks start on Monday as in Chinese business calendars.
PERIODS = {"day": "D", "week": "W-SUN", "month": "M"}
HISTORY_COLOR = "#4C78A8"
FORECAST_COLOR = "#F58518"
DATE_FORMAT = "%Y-%m-%d"


def fill_days(frame: pd.DataFrame, date_column: str, value_column: str, first: date, last: date) -> pd.DataFrame:
    """One row per calendar day; a day with no sales row sold nothing, so it is 0, not a gap."""
    days = pd.date_range(first, last, freq="D", name=date_column)
    values = frame.assign(**{date_column: pd.to_datetime(frame[date_column])}).set_index(date_column)[value_column]
    return values.astype(float).reindex(days, fill_value=0.0).reset_index()


def revenue_by_period(daily: pd.DataFrame, granularity: str, last_day: date) -> pd.DataFrame:
    """Revenue per day, week or month, with a display label per point; columns period, revenue, label."""
    if daily.empty:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[ns]"), "revenue": [], "label": []})
    filled = fill_days(daily, "sales_date", "revenue", daily["sales_date"].min(), last_day)
    periods = filled["sales_date"].dt.to_period(PERIODS[granularity]).dt.start_time
    totals = filled.groupby(periods)["revenue"].sum().rename_axis("period").reset_index()
    return totals.assign(label=totals["revenue"].map(formatting.money))


def revenue_trend_chart(trend: pd.DataFrame, date_title: str, revenue_title: str) -> alt.Chart:
    return (
        alt.Chart(trend)
        .mark_line(point=len(trend) <= 60)
        .encode(
            x=alt.X("period:T", title=date_title, axis=alt.Axis(format=DATE_FORMAT)),
            y=alt.Y("revenue:Q", title=revenue_title, axis=alt.Axis(format=",.0f")),
            tooltip=[
                alt.Tooltip("period:T", title=date_title, format=DATE_FORMAT),
                alt.Tooltip("label:N", title=revenue_title),
            ],
        )
    )


def forecast_chart(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    history_label: str,
    forecast_label: str,
    date_title: str,
    quantity_title: str,
) -> alt.LayerChart:
    """Sold quantity, then the forecast line inside its 95% (pale) and 80% (darker) bands."""
    x = alt.X("date:T", title=date_title, axis=alt.Axis(format=DATE_FORMAT))
    bands = [
        alt.Chart(forecast)
        .mark_area(color=FORECAST_COLOR, opacity=opacity)
        .encode(x=x, y=alt.Y(f"yhat_lower_{level}:Q", title=quantity_title), y2=f"yhat_upper_{level}:Q")
        for level, opacity in (("95", 0.15), ("80", 0.3))
    ]
    lines = pd.concat(
        [
            history.rename(columns={"sales_date": "date", "quantity": "value"}).assign(series=history_label),
            forecast[["date", "yhat"]].rename(columns={"yhat": "value"}).assign(series=forecast_label),
        ],
        ignore_index=True,
    )
    line = (
        alt.Chart(lines)
        .mark_line()
        .encode(
            x=x,
            y=alt.Y("value:Q", title=quantity_title),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=[history_label, forecast_label], range=[HISTORY_COLOR, FORECAST_COLOR]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("date:T", title=date_title, format=DATE_FORMAT),
                alt.Tooltip("value:Q", title=quantity_title, format=",.1f"),
            ],
        )
    )
    return alt.layer(*bands, line)


TREND_COLOR = "#9D9D9D"


def price_chart(
    months: pd.DataFrame,
    *,
    price_label: str,
    trend_label: str,
    outlook_label: str,
    month_title: str,
    price_title: str,
) -> alt.LayerChart:
    """Monthly price and its trend, then the outlook inside its 95% (pale) and 80% (darker) bands."""
    # Prices are in fen: a model's trend of a price that never moved differs from it by float
    # noise (54.9700000000005), which an axis not starting at zero would draw as movement.
    values = ["price", "trend", "outlook", "lower_80", "upper_80", "lower_95", "upper_95"]
    months = months.assign(**{column: months[column].astype(float).round(2) for column in values})
    history = months[~months["is_outlook"]]
    outlook = months[months["is_outlook"]]
    x = alt.X("month:T", title=month_title, axis=alt.Axis(format="%Y-%m"))
    bands = [
        alt.Chart(outlook)
        .mark_area(color=FORECAST_COLOR, opacity=opacity)
        .encode(x=x, y=alt.Y(f"lower_{level}:Q", title=price_title), y2=f"upper_{level}:Q")
        for level, opacity in (("95", 0.15), ("80", 0.3))
    ]
    # The outlook line starts at the last known price, so it continues the history without a gap.
    outlook_line = pd.concat(
        [history.tail(1)[["month", "price"]], outlook[["month", "outlook"]].rename(columns={"outlook": "price"})]
    )
    lines = pd.concat(
        [
            history[["month", "price"]].rename(columns={"price": "value"}).assign(series=price_label),
            history[["month", "trend"]].rename(columns={"trend": "value"}).assign(series=trend_label),
            outlook_line.rename(columns={"price": "value"}).assign(series=outlook_label),
        ],
        ignore_index=True,
    ).dropna(subset=["value"])
    line = (
        alt.Chart(lines)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=price_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.2f")),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(
                    domain=[price_label, trend_label, outlook_label],
                    range=[HISTORY_COLOR, TREND_COLOR, FORECAST_COLOR],
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("month:T", title=month_title, format="%Y-%m"),
                alt.Tooltip("series:N", title=None),
                alt.Tooltip("value:Q", title=price_title, format=",.2f"),
            ],
        )
    )
    return alt.layer(*bands, line)
