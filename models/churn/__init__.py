"""Churn warnings (客户流失预警): pure functions from purchase history to per-customer churn risk.

Entry point: `score_churn` (models/churn/scoring.py). Everything here takes DataFrames and returns
DataFrames; the caller reads the warehouse and writes `ml.churn_scores`.
"""

from models.churn.evaluation import evaluate_against_truth, simulator_truth_labels
from models.churn.scoring import ChurnResult, score_churn
from models.churn.settings import ChurnSettings

__all__ = ["ChurnResult", "ChurnSettings", "evaluate_against_truth", "score_churn", "simulator_truth_labels"]
