"""Freshness policies: how old a mart may get before ops are warned, then see it failing.

The nightly run rebuilds the marts at 01:30 and the Monday run the forecasts and replenishment
at 04:00 (Asia/Shanghai); each policy gives its schedule a few hours of slack for a slow or
retried run before warning, and a few more before failing.
"""

from datetime import timedelta

import dagster as dg

NIGHTLY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))
WEEKLY = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=6))
