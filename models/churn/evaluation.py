"""Validation metrics of the churn models, against observed labels or the simulator's ground truth.

The validation predictions are made at split_cutoff = as_of − horizon from data on or before it, so
their observed labels (no purchase in the following horizon) are known by as_of. The simulator knows
more: the day each customer actually churned, so `evaluate_against_truth` scores the same predictions
against "churned by split_cutoff + horizon", which does not confuse a quiet loyal customer with a lost one.

Network-wide rows (merchant_id/merchant_code None) pool the predictions of every merchant where a model
produced them: classifier and blend rows cover only merchants that passed the size gate.
"""

import datetime as dt
import math

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

MODELS = ("bgnbd", "classifier", "blend", "chosen")
# Columns filled per row; the others are the same for the whole frame.
ROW_KEYS = (
    "merchant_code",
    "model",
    "chosen",
    "customers",
    "positives",
    "auc",
    "precision_top_decile",
    "brier",
    "note",
)
EVALUATION_COLUMNS = [
    "merchant_id",
    "merchant_code",
    "as_of",
    "truth",
    "split_cutoff",
    "horizon_days",
    "model",
    "chosen",
    "customers",
    "positives",
    "auc",
    "precision_top_decile",
    "brier",
    "note",
]


def metrics(labels: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    """customers, positives, AUC (NaN with one class), precision among the top 10 % by risk, Brier score."""
    keep = ~np.isnan(risk)
    y, p = labels[keep].astype(int), risk[keep]
    n, positives = len(y), int(y.sum())
    if n == 0:
        return {"customers": 0, "positives": 0, "auc": math.nan, "precision_top_decile": math.nan, "brier": math.nan}
    auc = roc_auc_score(y, p) if 0 < positives < n else math.nan
    # Stable sort on −risk: ties keep input order, so the figure is reproducible.
    top = np.argsort(-p, kind="mergesort")[: math.ceil(0.1 * n)]
    return {
        "customers": n,
        "positives": positives,
        "auc": float(auc),
        "precision_top_decile": float(y[top].mean()),
        "brier": float(brier_score_loss(y, p)),
    }


def _rows_for(group: pd.DataFrame, label_col: str, chosen_model: str | None) -> list[dict]:
    rows = []
    for model in MODELS:
        row = metrics(group[label_col].to_numpy(), group[model].to_numpy(dtype="float64"))
        row["model"] = model
        row["chosen"] = model == "chosen" or model == chosen_model
        rows.append(row)
    return rows


def evaluation_rows(
    validation: pd.DataFrame,
    label_col: str,
    truth: str,
    merchants: pd.DataFrame,
    split_cutoff: dt.date,
    horizon_days: int,
    network_note: str | None = None,
) -> pd.DataFrame:
    """One row per merchant × model and per model network-wide, scoring `validation[model]` against `label_col`.

    `merchants` (merchant_id, merchant_code, chosen_model, note) lists every merchant to report, so a merchant
    with no validation customers still gets its rows (customers 0, metrics NaN) and the note saying why.
    """
    groups = dict(tuple(validation.groupby("merchant_code", sort=False)))
    rows = []
    for merchant in merchants.sort_values("merchant_code").itertuples(index=False):
        group = groups.get(merchant.merchant_code, validation.iloc[:0])
        for row in _rows_for(group, label_col, merchant.chosen_model):
            row.update(merchant_id=int(merchant.merchant_id), merchant_code=merchant.merchant_code, note=merchant.note)
            rows.append(row)
    if len(merchants):
        for row in _rows_for(validation, label_col, None):
            row.update(merchant_id=None, merchant_code=None, note=network_note)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[c for c in EVALUATION_COLUMNS if c in ROW_KEYS])
    # object dtype keeps merchant ids as integers beside the network rows' None.
    frame["merchant_id"] = pd.Series([row["merchant_id"] for row in rows], dtype="object")
    frame["as_of"] = split_cutoff + dt.timedelta(days=horizon_days)
    frame["truth"] = truth
    frame["split_cutoff"] = split_cutoff
    frame["horizon_days"] = horizon_days
    return frame[EVALUATION_COLUMNS]


def simulator_truth_labels(lifecycle: pd.DataFrame, cutoff: object, horizon_days: int) -> pd.DataFrame:
    """merchant_code, customer_code, label: 1 when the simulator's churned_on ≤ cutoff + horizon (NaT → 0)."""
    limit = pd.Timestamp(cutoff) + pd.Timedelta(days=horizon_days)
    churned_on = pd.to_datetime(lifecycle["churned_on"])
    return pd.DataFrame(
        {
            "merchant_code": lifecycle["merchant_code"].to_numpy(),
            "customer_code": lifecycle["customer_code"].astype(str).to_numpy(),
            "label": (churned_on.notna() & (churned_on <= limit)).astype(int).to_numpy(),
        }
    )


def evaluate_against_truth(validation_predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Evaluation rows (truth='simulator') over the validation customers that have a simulator label."""
    joined = validation_predictions.merge(
        labels[["merchant_code", "customer_code", "label"]], on=["merchant_code", "customer_code"], how="left"
    )
    if validation_predictions.empty:
        return pd.DataFrame(columns=EVALUATION_COLUMNS)
    missing = joined["label"].isna().groupby(joined["merchant_code"]).sum()
    merchants = validation_predictions.drop_duplicates("merchant_code")[
        ["merchant_id", "merchant_code", "chosen_model"]
    ]
    merchants = merchants.assign(
        note=merchants["merchant_code"].map(
            lambda code: f"{int(missing[code])} validation customers without simulator truth" if missing[code] else None
        )
    )
    network_note = f"{int(missing.sum())} validation customers without simulator truth" if missing.sum() else None
    return evaluation_rows(
        joined[joined["label"].notna()],
        "label",
        "simulator",
        merchants,
        pd.Timestamp(validation_predictions["split_cutoff"].iloc[0]).date(),
        int(validation_predictions["horizon_days"].iloc[0]),
        network_note,
    )
