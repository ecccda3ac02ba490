"""Model choice per series from the earlier backtest origins, scored on the last origin only.

The last origin plays the future: nothing it holds may influence the choice, or its score would
flatter the choice. So the choice sees only earlier origins, and of those only days up to the
last cutoff (with step_size < h, an earlier origin's window would otherwise reach into the last
one's).

Options per series are its candidates and an inverse-MASE weighted ensemble of its two best
candidates. Ensemble bounds are the weighted mean of the members' bounds (quantile averaging).
The ensemble's earlier-origin MASE uses weights fitted on those same origins, a slight optimism
that ties resolve against: when two options score the same, the simpler one wins
(candidates.MODEL_ORDER, ensemble last).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.forecasting.backtest import METRIC_NAMES, summarise_errors, with_scales
from models.forecasting.candidates import MODEL_ORDER, VALUE_COLUMNS

ENSEMBLE = "ensemble"
OPTION_ORDER = (*MODEL_ORDER, ENSEMBLE)
ENSEMBLE_SIZE = 2

CHOICE_COLUMNS = [
    "unique_id",
    "model",
    "selection_mase",
    "first_model",
    "first_weight",
    "second_model",
    "second_weight",
]
SCORE_COLUMNS = ["unique_id", "model", "chosen", "cutoff", *METRIC_NAMES]


def last_cutoffs(rows: pd.DataFrame) -> pd.Series:
    """The last backtest origin of each row's series."""
    return rows.groupby("unique_id")["cutoff"].transform("max")


def earlier_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of the earlier origins whose days the last origin has not yet reached."""
    last = last_cutoffs(rows)
    return rows[(rows["cutoff"] < last) & (rows["ds"] <= last)]


def mean_origin_mase(scored_rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over origins of each series × model's MASE (all horizons); NaN origins are skipped."""
    per_origin = summarise_errors(scored_rows, ["unique_id", "model", "cutoff"])
    return per_origin.groupby(["unique_id", "model"], as_index=False)["mase"].mean()


def option_rank(models: pd.Series) -> pd.Series:
    """Position of each option in the simplest-first order."""
    return models.map({name: position for position, name in enumerate(OPTION_ORDER)})


def rank_options(mean_mase: pd.DataFrame) -> pd.DataFrame:
    """Options best first per series; a NaN MASE (no scale ever) ranks after every number."""
    ranked = mean_mase.assign(
        sort_mase=mean_mase["mase"].fillna(np.inf),
        order=option_rank(mean_mase["model"]),
    )
    return ranked.sort_values(["unique_id", "sort_mase", "order"], ignore_index=True)


def ensemble_weights(mean_mase: pd.DataFrame) -> pd.DataFrame:
    """Inverse-MASE weights of each series' two best candidates (unique_id, model, weight).

    A perfect member (MASE 0) would take infinite weight, so perfect members share all the
    weight. Series with fewer than two candidates of finite MASE get no ensemble.
    """
    finite = rank_options(mean_mase[np.isfinite(mean_mase["mase"])])
    best = finite.groupby("unique_id", sort=False).head(ENSEMBLE_SIZE)
    best = best[best.groupby("unique_id")["model"].transform("size") == ENSEMBLE_SIZE]
    perfect = best["mase"] == 0
    any_perfect = perfect.groupby(best["unique_id"]).transform("any")
    raw = np.where(any_perfect, perfect.astype(float), 1.0 / best["mase"].where(~perfect, np.nan))
    best = best.assign(raw=np.nan_to_num(raw, nan=0.0))
    best["weight"] = best["raw"] / best.groupby("unique_id")["raw"].transform("sum")
    return best[["unique_id", "model", "weight"]].reset_index(drop=True)


def ensemble_rows(rows: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The weighted ensemble's forecasts at every origin, in the layout of backtest rows."""
    members = rows.merge(weights, on=["unique_id", "model"], how="inner")
    if members.empty:
        return rows.iloc[0:0]
    weighted = members[VALUE_COLUMNS].mul(members["weight"], axis=0)
    weighted[["unique_id", "cutoff", "ds", "y"]] = members[["unique_id", "cutoff", "ds", "y"]]
    grouped = weighted.groupby(["unique_id", "cutoff", "ds"], as_index=False)
    combined = grouped[VALUE_COLUMNS].sum().merge(grouped["y"].first(), on=["unique_id", "cutoff", "ds"])
    return combined.assign(model=ENSEMBLE)[rows.columns]


def choose(ranked: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The best option per series, with the ensemble's members and weights beside it."""
    best = ranked.groupby("unique_id", sort=True).head(1)
    choices = best[["unique_id", "model", "mase"]].rename(columns={"mase": "selection_mase"})
    members = weights.assign(position=weights.groupby("unique_id").cumcount())
    for position, prefix in enumerate(("first", "second")):
        member = members[members["position"] == position][["unique_id", "model", "weight"]]
        member = member.rename(columns={"model": f"{prefix}_model", "weight": f"{prefix}_weight"})
        choices = choices.merge(member, on="unique_id", how="left")
    return choices[CHOICE_COLUMNS].reset_index(drop=True)


def select_models(
    rows: pd.DataFrame, series: pd.DataFrame, allow_ensemble: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Choose a model per series from backtest rows and score every option on the last origin.

    `rows` are `backtest.backtest_forecasts` rows, `series` the history they came from (for the
    MASE scales). Returns the choices (CHOICE_COLUMNS; the member columns describe the ensemble
    whether or not it was chosen) and the last-origin scores over all horizons of every single
    candidate and the ensemble (SCORE_COLUMNS, `chosen` marks the chosen option).
    """
    scored = with_scales(rows, series)
    mean_mase = mean_origin_mase(earlier_rows(scored))
    weights = ensemble_weights(mean_mase)
    scored = pd.concat([scored, with_scales(ensemble_rows(rows, weights), series)], ignore_index=True)
    if allow_ensemble:
        ensemble_mase = mean_origin_mase(earlier_rows(scored[scored["model"] == ENSEMBLE]))
        mean_mase = pd.concat([mean_mase, ensemble_mase], ignore_index=True)
    choices = choose(rank_options(mean_mase), weights)
    last = scored[scored["cutoff"] == last_cutoffs(scored)]
    scores = summarise_errors(last, ["unique_id", "model", "cutoff"])
    chosen = scores.merge(choices[["unique_id", "model"]].assign(chosen=True), on=["unique_id", "model"], how="left")
    chosen["chosen"] = chosen["chosen"].eq(True)
    return choices, chosen[SCORE_COLUMNS].sort_values(["unique_id", "model"], ignore_index=True)
