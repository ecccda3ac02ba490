"""Altair charts of the Sales, Funnel, Products and Inventory pages; labels come in already localized."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboards.charts import DATE_FORMAT, HISTORY_COLOR

BAR_LIMIT = 15


def bar_chart(
    frame: pd.DataFrame,
    label: str,
    value: str,
    label_title: str,
    value_title: str,
    value_format: str,
    *,
    ordered: bool = False,
) -> alt.Chart:
    """Horizontal bars, at most BAR_LIMIT of them: the biggest first, or the frame's own order when `ordered`."""
    top = frame.head(BAR_LIMIT) if ordered else frame.nlargest(BAR_LIMIT, value)
    return (
        alt.Chart(top)
        .mark_bar(color=HISTORY_COLOR)
        .encode(
            x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=value_format)),
            y=alt.Y(f"{label}:N", title=label_title, sort=None if ordered else "-x"),
            tooltip=[
                alt.Tooltip(f"{label}:N", title=label_title),
                alt.Tooltip(f"{value}:Q", title=value_title, format=value_format),
            ],
        )
    )


def rate_chart(frame: pd.DataFrame, date: str, rates: dict[str, str], date_title: str, rate_title: str) -> alt.Chart:
    """One line per rate column (`rates` maps column → legend label) over time."""
    long = frame.melt(id_vars=[date], value_vars=list(rates), var_name="series", value_name="rate")
    long["series"] = long["series"].map(rates)
    return (
        alt.Chart(long.dropna(subset=["rate"]))
        .mark_line(point=len(frame) <= 60)
        .encode(
            x=alt.X(f"{date}:T", title=date_title, axis=alt.Axis(format=DATE_FORMAT)),
            y=alt.Y("rate:Q", title=rate_title, axis=alt.Axis(format=".0%")),
            color=alt.Color("series:N", legend=alt.Legend(title=None, orient="top")),
            tooltip=[
                alt.Tooltip(f"{date}:T", title=date_title, format=DATE_FORMAT),
                alt.Tooltip("series:N", title=None),
                alt.Tooltip("rate:Q", title=rate_title, format=".1%"),
            ],
        )
    )


def heatmap(frame: pd.DataFrame, x: str, y: str, value: str, text: str, titles: tuple[str, str, str]) -> alt.LayerChart:
    """A grid of cells coloured by `value`, each labelled with `text`."""
    x_title, y_title, value_title = titles
    base = alt.Chart(frame).encode(
        x=alt.X(f"{x}:N", title=x_title, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y(f"{y}:N", title=y_title),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip(f"{text}:N", title=value_title)],
    )
    return alt.layer(cells, base.mark_text(fontSize=14).encode(text=f"{text}:N"))


def count_bars(frame: pd.DataFrame, date: str, value: str, date_title: str, value_title: str) -> alt.Chart:
    """A count per period (orders, customers) as bars over time."""
    return (
        alt.Chart(frame)
        .mark_bar(color=HISTORY_COLOR)
        .encode(
            x=alt.X(f"{date}:T", title=date_title, axis=alt.Axis(format=DATE_FORMAT)),
            y=alt.Y(f"{value}:Q", title=value_title, axis=alt.Axis(format=",d")),
            tooltip=[
                alt.Tooltip(f"{date}:T", title=date_title, format=DATE_FORMAT),
                alt.Tooltip(f"{value}:Q", title=value_title, format=","),
            ],
        )
    )
