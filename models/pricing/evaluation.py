"""Evaluation against the simulator's known shocks and against the no-change forecast.

Tolerance of change points: 35 days by default. A market shock shows in shelf and cost prices only after the next
weekly review (and only once the index moved more than 3%), shelf prices follow two weeks later, and the weekly
bins plus the minimum segment put the detected week up to a week before or a few weeks after the true start; 35
days covers review + shelf delay + one bin, and is short enough that two shocks (at least ~2 months apart in the
simulator) are not confused. A detection up to 7 days before the start counts too: a week is labelled by its first
day, so the week holding the shock can start before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EARLY_DAYS = 7


def _rows(items: list[tuple[str, int | None, float | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["metric", "horizon_months", "value", "detail"])


def evaluate_change_points(found: pd.DataFrame, injected: pd.DataFrame, tolerance_days: int = 35) -> pd.DataFrame:
    """Recall, precision and mean lag (days, detected − injected) of category change points.

    found: category_code, changed_on; injected: category_code, starts_on, magnitude. Each injected shock is matched
    to at most one detection of its category within [−7, tolerance_days] days, nearest first."""
    found = found.assign(changed_on=pd.to_datetime(found["changed_on"])).reset_index(drop=True)
    used: set[int] = set()
    lags = []
    for shock in injected.assign(starts_on=pd.to_datetime(injected["starts_on"])).sort_values("starts_on").itertuples():
        same = found[(found["category_code"] == shock.category_code) & ~found.index.isin(used)]
        lag = (same["changed_on"] - shock.starts_on).dt.days
        near = lag[(lag >= -EARLY_DAYS) & (lag <= tolerance_days)]
        if len(near):
            best = near.abs().idxmin()
            used.add(best)
            lags.append(int(lag[best]))
    recall = len(lags) / len(injected) if len(injected) else None
    precision = len(used) / len(found) if len(found) else None
    detail = f"{len(lags)} of {len(injected)} shocks found, {len(found)} detections, tolerance {tolerance_days} days"
    return _rows(
        [
            ("change_point_recall", None, recall, detail),
            ("change_point_precision", None, precision, detail),
            ("change_point_mean_lag_days", None, float(np.mean(lags)) if lags else None, detail),
            ("change_point_tolerance_days", None, float(tolerance_days), detail),
        ]
    )


def evaluate_outlook(backtest: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute log error of the chosen outlook and of no-change per level and horizon on the rolling origins
    (each origin's model chosen from earlier origins only), and their ratio: below 1 the outlook beats no-change.
    MAE of the log is about the mean absolute percentage error for moves of a few percent."""
    rows = []
    for (level, horizon), group in backtest.groupby(["level", "horizon"]):
        model = group["error"].abs().mean()
        naive = group["naive_error"].abs().mean()
        detail = f"level={level}, {len(group)} forecasts, {group['origin'].nunique()} origins"
        rows += [
            ("outlook_mae_log", int(horizon), float(model), detail),
            ("no_change_mae_log", int(horizon), float(naive), detail),
            ("outlook_vs_no_change", int(horizon), float(model / naive) if naive > 0 else None, detail),
        ]
    return _rows(rows)
