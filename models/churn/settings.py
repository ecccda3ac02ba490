"""Settings of the churn model, in one frozen dataclass so a run's choices can be logged as a whole."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChurnSettings:
    """Thresholds and model sizes; the defaults are the platform's rules.

    `min_customers` counts customers with at least one purchase on or before the validation cutoff;
    below it (or with fewer than `min_validation_class` churners or stayers in validation) a merchant
    gets the BG/NBD baseline only, because a classifier and its AUC comparison would be noise.
    """

    horizon_days: int = 90
    sleeping_days: int = 90
    lost_days: int = 180
    at_risk_threshold: float = 0.5
    cutoff_step_days: int = 30
    training_cutoffs: int = 6
    min_customers: int = 60
    min_validation_class: int = 10
    seed: int = 0
