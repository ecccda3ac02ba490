"""Syntetos–Boylan demand classes of daily series, to decide which forecasting models may pay.

ADI is the mean number of days between consecutive non-zero demands; CV² is the squared
coefficient of variation of the non-zero demand sizes (population variance over squared mean,
so it describes the sizes seen rather than estimating a wider population). A value exactly at a
cut-off belongs to the less regular side (ADI = 1.32 is intermittent, CV² = 0.49 is erratic).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

SMOOTH = "smooth"
ERRATIC = "erratic"
INTERMITTENT = "intermittent"
LUMPY = "lumpy"
NO_DEMAND = "no_demand"

CLASS_COLUMNS = ["unique_id", "adi", "cv2", "demand_class"]


def demand_statistics(y: np.ndarray) -> tuple[float, float]:
    """ADI and CV² of one series in time order; NaN where fewer than two non-zero demands exist."""
    demand_days = np.flatnonzero(y > 0)
    if demand_days.size < 2:
        return float("nan"), float("nan")
    sizes = y[demand_days].astype(float)
    adi = float(np.mean(np.diff(demand_days)))
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2)
    return adi, cv2


def demand_class(adi: float, cv2: float, nonzero_demands: int) -> str:
    """The class of one series from its statistics; too few demands to measure count as lumpy."""
    if nonzero_demands == 0:
        return NO_DEMAND
    if nonzero_demands < 2:
        return LUMPY
    if adi < ADI_CUTOFF:
        return SMOOTH if cv2 < CV2_CUTOFF else ERRATIC
    return INTERMITTENT if cv2 < CV2_CUTOFF else LUMPY


def classify_demand(series: pd.DataFrame) -> pd.DataFrame:
    """One row per series of the long zero-filled daily frame (unique_id, ds, y): adi, cv2, demand_class."""
    rows = []
    for unique_id, group in series.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
        y = group["y"].to_numpy(dtype=float)
        adi, cv2 = demand_statistics(y)
        rows.append((unique_id, adi, cv2, demand_class(adi, cv2, int(np.count_nonzero(y > 0)))))
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)
