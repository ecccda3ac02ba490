"""BG/NBD baseline (lifetimes.BetaGeoFitter), fitted per merchant on (frequency, recency, T) in days.

Under BG/NBD a customer buys as a Poisson process with rate λ ~ Gamma(r, α) while alive, and drops out
with probability p ~ Beta(a, b) right after each purchase. Given x repeat purchases, the last at t_x, and
T days observed since the first purchase:

    P_alive = 1 / (1 + a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x))       (P_alive = 1 when x = 0)

and, given alive, λ ~ Gamma(r + x, α + T). While alive a customer can only drop out right after a purchase,
so "no purchase in (T, T + h]" given alive is exactly "no Poisson event in h days":

    churn_risk = P(no purchase in (T, T + h]) = 1 − P_alive + P_alive · ((α + T) / (α + T + h))^(r + x)

expected_purchases is lifetimes' conditional_expected_number_of_purchases_up_to_time(h, x, t_x, T).

Customers who never bought are scored as x = 0, t_x = 0, T = days since joining: an approximation
(BG/NBD starts observing at the first purchase), good enough to rank them and far better than no row.
"""

import warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter

from models.churn.features import MerchantHistory

# Tried in order when a fit fails or does not converge: more shrinkage makes the likelihood better behaved.
PENALIZERS = (0.001, 0.01, 0.1, 1.0)


def rfm_at(history: MerchantHistory, cutoff: int) -> pd.DataFrame:
    """frequency (repeat purchase days), recency (first to last purchase day) and T (first purchase to cutoff)."""
    days = history.days[history.days["day"] <= cutoff]
    grouped = days.groupby("customer_code", sort=True)["day"]
    first, last = grouped.min(), grouped.max()
    return pd.DataFrame(
        {"frequency": grouped.size() - 1, "recency": last - first, "T": cutoff - first}, dtype="float64"
    )


def fixed_fitter(r: float, alpha: float, a: float, b: float) -> BetaGeoFitter:
    """A BetaGeoFitter with given parameters (for the last-resort fallback and for hand checks)."""
    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series({"r": r, "alpha": alpha, "a": a, "b": b})
    return fitter


def fit_bgnbd(rfm: pd.DataFrame) -> tuple[BetaGeoFitter, str | None]:
    """Fit BG/NBD on identical (x, t_x, T) rows collapsed into weights; returns the fitter and a note or None.

    Never raises: if every penalizer fails, a weak fixed prior (one purchase per median T, p ~ Beta(1, 3))
    keeps the merchant scored, with a note saying so.
    """
    compressed = rfm.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    compressed = compressed[compressed["T"] > 0]
    if compressed.empty:
        return _fixed_prior(rfm), "BG/NBD: no customer with a purchase before the cutoff; fixed prior used"
    failures = []
    for penalizer in PENALIZERS:
        fitter = BetaGeoFitter(penalizer_coef=penalizer)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter.fit(
                    compressed["frequency"].to_numpy(),
                    compressed["recency"].to_numpy(),
                    compressed["T"].to_numpy(),
                    weights=compressed["weight"].to_numpy(),
                )
        except Exception as exc:  # lifetimes raises ConvergenceError, scipy/numpy errors on degenerate data
            failures.append(f"{penalizer}: {type(exc).__name__}")
            continue
        if np.all(np.isfinite(fitter.params_.to_numpy())) and np.all(fitter.params_.to_numpy() > 0):
            note = None if penalizer == PENALIZERS[0] else f"BG/NBD fitted with penalizer {penalizer}"
            return fitter, note
        failures.append(f"{penalizer}: non-finite parameters")
    return _fixed_prior(rfm), "BG/NBD fit failed (" + "; ".join(failures) + "); fixed prior used"


def _fixed_prior(rfm: pd.DataFrame) -> BetaGeoFitter:
    """Weak prior for merchants whose data cannot be fitted: about one purchase per median T, p ~ Beta(1, 3)."""
    median_t = float(rfm["T"].median()) if len(rfm) else 90.0
    return fixed_fitter(1.0, max(median_t, 1.0), 1.0, 3.0)


def bgnbd_scores(fitter: BetaGeoFitter, rfm: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """p_alive, churn_risk and expected_purchases per row of `rfm` (see the module docstring)."""
    x, t_x, big_t = (rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    r, alpha = fitter.params_["r"], fitter.params_["alpha"]
    with np.errstate(all="ignore"):
        p_alive = np.asarray(fitter.conditional_probability_alive(x, t_x, big_t), dtype="float64")
        silent_if_alive = ((alpha + big_t) / (alpha + big_t + horizon_days)) ** (r + x)
        expected = np.asarray(
            fitter.conditional_expected_number_of_purchases_up_to_time(horizon_days, x, t_x, big_t), dtype="float64"
        )
    risk = 1.0 - p_alive + p_alive * silent_if_alive
    return pd.DataFrame(
        {
            "p_alive": np.clip(np.nan_to_num(p_alive, nan=0.0), 0.0, 1.0),
            "churn_risk": np.clip(np.nan_to_num(risk, nan=1.0), 0.0, 1.0),
            "expected_purchases": np.clip(np.nan_to_num(expected, nan=0.0), 0.0, None),
        },
        index=rfm.index,
    )
