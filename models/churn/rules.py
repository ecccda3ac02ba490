"""Status and reason rules shown to merchants next to the churn risk.

Status, first rule that applies:
- 'lost': no purchase for ≥ lost_days (never bought: joined ≥ lost_days ago);
- 'sleeping': no purchase for ≥ sleeping_days (the platform's sleeping-customer rule; never bought: tenure);
- 'at_risk': churn_risk ≥ at_risk_threshold;
- 'active' otherwise.

Reasons, in this fixed order of importance (silence is the churn itself; the trends are its early signs):
- 'long_silence': days since the last purchase > 2 × the customer's mean gap between purchase days, and ≥ 30;
- 'falling_frequency': orders in the last 90 days < 70 % of the previous 90 (which had at least one);
- 'falling_amount': amount in the last 90 days < 70 % of the previous 90 (which was above zero);
- 'fewer_categories': fewer distinct categories in the last 180 days than in the previous 180.
"""

import numpy as np
import pandas as pd

from models.churn.settings import ChurnSettings

SILENCE_GAP_MULTIPLE = 2.0
SILENCE_MIN_DAYS = 30
FALLING_RATIO = 0.7


def assign_status(
    days_since_last: np.ndarray, tenure_days: np.ndarray, churn_risk: np.ndarray, settings: ChurnSettings
) -> np.ndarray:
    """Status per customer; `days_since_last` is NaN for customers who never bought (their tenure is used)."""
    silence = np.where(np.isnan(days_since_last), tenure_days, days_since_last)
    return np.select(
        [silence >= settings.lost_days, silence >= settings.sleeping_days, churn_risk >= settings.at_risk_threshold],
        ["lost", "sleeping", "at_risk"],
        default="active",
    )


def churn_reasons(features: pd.DataFrame) -> list[list[str]]:
    """Reason codes per row of `features` (columns of features_at), most important first."""
    flags = {
        "long_silence": (features["recency_days"] > SILENCE_GAP_MULTIPLE * features["gap_mean"])
        & (features["recency_days"] >= SILENCE_MIN_DAYS),
        "falling_frequency": (features["orders_prev90"] > 0)
        & (features["orders_90"] < FALLING_RATIO * features["orders_prev90"]),
        "falling_amount": (features["amount_prev90"] > 0)
        & (features["amount_90"] < FALLING_RATIO * features["amount_prev90"]),
        "fewer_categories": features["categories_180"] < features["categories_prev180"],
    }
    names = np.array(list(flags))
    matrix = np.column_stack([flag.fillna(False).to_numpy(dtype=bool) for flag in flags.values()])
    return [names[row].tolist() for row in matrix]
