"""Queries of the alert digest (ml.alert_digests) on the read-only serving copy.

Same rules as `dashboards.queries`: constant SQL with `?` parameters, filtered by the session's
merchant_id, cached per (SQL, parameters, file version). `coopcast alerts send` runs the same SQL
on its own read-only connection, so the email and the inbox show the same digest.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.digest import DIGEST_SUMMARY_SQL, NEW_ITEMS_SQL
from dashboards.queries import _query_frame


def latest_digest(merchant_id: int) -> pd.DataFrame:
    """The merchant's latest digest summary: one row, or none before the first digest."""
    return _query_frame(DIGEST_SUMMARY_SQL, (merchant_id, None, merchant_id))


def new_digest_items(merchant_id: int, as_of: date) -> pd.DataFrame:
    return _query_frame(NEW_ITEMS_SQL, (merchant_id, as_of))
