"""The defaults of `coopcast evaluate replenishment`, apart from the replay (evaluation.py), so that
the command line can show them without importing the replay and what it needs (the policy, scipy,
the simulator's rules): every `coopcast` command starts faster for it."""

# The held-out period and sample of the replay (replay_inputs.py).
DEFAULT_DAYS = 90
DEFAULT_MAX_SKUS = 500
# Days between the coopcast forecaster's refits in the replay. The weekly plan refits every 7; a
# replay refitting as often took 4.5× the forecasting time (small network: 648 s against 145 s)
# and served A items 0.3 points more, so 7 is asked for with --refit-days.
REFIT_EVERY_DAYS = 28
