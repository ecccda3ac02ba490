"""Model choice from the earlier backtest origins, pooled per demand class, scored on the last origin.

The last origin plays the future: nothing it holds may influence the choice, or its score would
flatter the choice. So the choice sees only earlier origins, and of those only days up to the
last cutoff (with step_size < h, an earlier origin's window would otherwise reach into the last
one's). The pool (demand class) of a series is likewise taken from its history up to its last
cutoff unless the caller gives it.

A per-series pick from a few noisy origins mostly picks noise: the winner of two windows is often
the model that was lucky in them. As the forecasting literature does (e.g. model selection by
pooled errors, Fildes & Petropoulos 2015; forecast combinations, M4), the choice is made per pool
of series alike in demand: each option's mean earlier-origin SELECTION_METRIC over every series
and origin of the pool decides. A series takes another option only on strong evidence: it beat
the pool's choice by at least a factor DEVIATION_RATIO on every earlier origin.

The choice is by RMSSE, not MASE. MASE is least for the median forecast, which for a SKU sold on
fewer than half of the days is zero: on the simulator's mostly intermittent SKUs it chose the
models that forecast least (LightGBM's Tweedie fit, seasonal naive repeating an empty week),
which then under-forecast whenever demand came back, and which would starve replenishment.
RMSSE is least for the mean forecast, as M5 chose it for (mostly intermittent) retail sales.

Options are the single candidates and a combination of the pool's COMBINATION_SIZE best
candidates weighted by their inverse pooled RMSSE (weights from the whole pool's errors, not from
one series' few windows, whose noise would outweigh what they tell). Its bounds are the weighted
mean of the members' bounds (quantile averaging). Ties resolve toward the simpler option
(candidates.MODEL_ORDER, combination last).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from models.forecasting.backtest import METRIC_NAMES, summarise_errors, with_scales
from models.forecasting.candidates import MODEL_ORDER, VALUE_COLUMNS
from models.forecasting.demand_classes import classify_demand

ENSEMBLE = "ensemble"
OPTION_ORDER = (*MODEL_ORDER, ENSEMBLE)
SELECTION_METRIC = "rmsse"
COMBINATION_SIZE = 3
# A series overrides its pool's choice only when another option's error was at most this share of
# the pool choice's on every earlier origin.
DEVIATION_RATIO = 0.75
# A pooled error of 0 (a pool of never-changing series) would take all the weight; below this the
# members count as equally perfect.
MIN_POOLED_ERROR = 1e-6

CHOICE_COLUMNS = ["unique_id", "model", "pool", "selection_error"]
WEIGHT_COLUMNS = ["unique_id", "model", "weight"]
SCORE_COLUMNS = ["unique_id", "model", "chosen", "cutoff", *METRIC_NAMES]


class Selection(NamedTuple):
    """The choice per series (CHOICE_COLUMNS), the combination's members and weights per series
    (WEIGHT_COLUMNS, whether or not it was chosen) and the last-origin scores of every option
    (SCORE_COLUMNS, `chosen` marks the chosen one)."""

    choices: pd.DataFrame
    weights: pd.DataFrame
    scores: pd.DataFrame


def last_cutoffs(rows: pd.DataFrame) -> pd.Series:
    """The last backtest origin of each row's series."""
    return rows.groupby("unique_id")["cutoff"].transform("max")


def earlier_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of the earlier origins whose days the last origin has not yet reached."""
    last = last_cutoffs(rows)
    return rows[(rows["cutoff"] < last) & (rows["ds"] <= last)]


def pools_before_last_origin(rows: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """The demand class of each backtested series from its history up to its last cutoff (unique_id, pool)."""
    last = rows.groupby("unique_id")["cutoff"].max().rename("last_cutoff").reset_index()
    history = series.merge(last, on="unique_id")
    history = history[history["ds"] <= history["last_cutoff"]][["unique_id", "ds", "y"]]
    return classify_demand(history).rename(columns={"demand_class": "pool"})[["unique_id", "pool"]]


def origin_errors(scored_rows: pd.DataFrame) -> pd.DataFrame:
    """SELECTION_METRIC of each series × model × origin over all its horizons, as `error` (NaN
    where the series has no scale)."""
    errors = summarise_errors(scored_rows, ["unique_id", "model", "cutoff"])
    return errors.rename(columns={SELECTION_METRIC: "error"})[["unique_id", "model", "cutoff", "error"]]


def option_rank(models: pd.Series) -> pd.Series:
    """Position of each option in the simplest-first order."""
    return models.map({name: position for position, name in enumerate(OPTION_ORDER)})


def pooled_ranking(per_origin: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    """Options best first per pool by mean error over the pool's series and earlier origins.

    An option with no finite error in its pool ranks after every number.
    """
    pooled = (
        per_origin.merge(pools, on="unique_id")
        .groupby(["pool", "model"], as_index=False)["error"]
        .mean()
        .rename(columns={"error": "pooled_error"})
    )
    pooled["sort_error"] = pooled["pooled_error"].fillna(np.inf)
    pooled["order"] = option_rank(pooled["model"])
    return pooled.sort_values(["pool", "sort_error", "order"], ignore_index=True)


def combination_weights(ranking: pd.DataFrame, available: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    """Inverse pooled-error weights over each series' share of its pool's COMBINATION_SIZE best candidates.

    `available` lists the (unique_id, model) pairs each series was backtested with. Series left
    with fewer than two members get no combination.
    """
    finite = ranking[np.isfinite(ranking["sort_error"]) & (ranking["model"] != ENSEMBLE)]
    members = finite.groupby("pool", sort=False).head(COMBINATION_SIZE)[["pool", "model", "pooled_error"]]
    per_series = available.merge(pools, on="unique_id").merge(members, on=["pool", "model"])
    per_series = per_series[per_series.groupby("unique_id")["model"].transform("size") >= 2]
    inverse = 1.0 / per_series["pooled_error"].clip(lower=MIN_POOLED_ERROR)
    per_series = per_series.assign(weight=inverse / inverse.groupby(per_series["unique_id"]).transform("sum"))
    return per_series[WEIGHT_COLUMNS].sort_values(["unique_id", "model"], ignore_index=True)


def ensemble_rows(rows: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The weighted combination's forecasts at every origin, in the layout of backtest rows."""
    members = rows.merge(weights, on=["unique_id", "model"], how="inner")
    if members.empty:
        return rows.iloc[0:0]
    weighted = members[VALUE_COLUMNS].mul(members["weight"], axis=0)
    weighted[["unique_id", "cutoff", "ds", "y"]] = members[["unique_id", "cutoff", "ds", "y"]]
    grouped = weighted.groupby(["unique_id", "cutoff", "ds"], as_index=False)
    combined = grouped[VALUE_COLUMNS].sum().merge(grouped["y"].first(), on=["unique_id", "cutoff", "ds"])
    return combined.assign(model=ENSEMBLE)[rows.columns]


def pool_defaults(ranking: pd.DataFrame, options: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    """Each series' best option by its pool's ranking among the options it has (unique_id, model)."""
    ranked = options.merge(pools, on="unique_id").merge(ranking[["pool", "model", "sort_error", "order"]])
    ranked = ranked.sort_values(["unique_id", "sort_error", "order"])
    return ranked.groupby("unique_id", sort=True).head(1)[["unique_id", "model"]]


def strong_deviations(per_origin: pd.DataFrame, defaults: pd.DataFrame) -> pd.DataFrame:
    """Series whose own best option beat their pool's choice by DEVIATION_RATIO at every earlier origin.

    Returns (unique_id, model) of the deviating series' best such option by its mean error.
    """
    default_error = per_origin.merge(defaults, on=["unique_id", "model"])[["unique_id", "cutoff", "error"]]
    paired = per_origin.merge(default_error, on=["unique_id", "cutoff"], suffixes=("", "_default"))
    paired["beats"] = paired["error"] <= DEVIATION_RATIO * paired["error_default"]
    evidence = paired.groupby(["unique_id", "model"], as_index=False).agg(
        beats=("beats", "all"), error=("error", "mean")
    )
    evidence = evidence[evidence["beats"]].assign(order=lambda frame: option_rank(frame["model"]))
    best = evidence.sort_values(["unique_id", "error", "order"]).groupby("unique_id", sort=True).head(1)
    return best[["unique_id", "model"]]


def select_models(
    rows: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame | None = None, allow_ensemble: bool = True
) -> Selection:
    """Choose an option per series from the earlier origins of backtest rows; score all on the last.

    `rows` are `backtest.backtest_forecasts` rows, `series` the history they came from (for the
    error scales). `pools` (unique_id, pool) groups the series whose errors are pooled; by default
    their demand class up to the last cutoff.
    """
    if pools is None:
        pools = pools_before_last_origin(rows, series)
    scored = with_scales(rows, series)
    per_origin = origin_errors(earlier_rows(scored))
    ranking = pooled_ranking(per_origin, pools)
    weights = combination_weights(ranking, rows[["unique_id", "model"]].drop_duplicates(), pools)
    scored = pd.concat([scored, with_scales(ensemble_rows(rows, weights), series)], ignore_index=True)
    if allow_ensemble:
        per_origin = origin_errors(earlier_rows(scored))
        ranking = pooled_ranking(per_origin, pools)
    options = per_origin[["unique_id", "model"]].drop_duplicates()
    defaults = pool_defaults(ranking, options, pools)
    deviations = strong_deviations(per_origin, defaults)
    chosen = pd.concat([defaults[~defaults["unique_id"].isin(deviations["unique_id"])], deviations])
    own_error = per_origin.groupby(["unique_id", "model"], as_index=False)["error"].mean()
    choices = (
        chosen.merge(own_error, on=["unique_id", "model"], how="left")
        .rename(columns={"error": "selection_error"})
        .merge(pools, on="unique_id", how="left")
    )
    choices = choices[CHOICE_COLUMNS].sort_values("unique_id", ignore_index=True)
    last = scored[scored["cutoff"] == last_cutoffs(scored)]
    scores = summarise_errors(last, ["unique_id", "model", "cutoff"])
    scores = scores.merge(choices[["unique_id", "model"]].assign(chosen=True), on=["unique_id", "model"], how="left")
    scores["chosen"] = scores["chosen"].eq(True)
    return Selection(choices, weights, scores[SCORE_COLUMNS].sort_values(["unique_id", "model"], ignore_index=True))
