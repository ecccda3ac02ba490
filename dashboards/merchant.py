"""Which merchant's data this session shows.

The signed-in account's own merchant (dashboards/auth.py), never a widget or the URL; a platform
admin belongs to no merchant, sees them all and picks one in the sidebar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from dashboards import queries
from dashboards.auth import signed_in_user
from dashboards.i18n import t
from transactional.users import ADMIN_ROLE

MERCHANT_KEY = "merchant_id"


class NoDataYet(LookupError):
    """The merchant has nothing published yet: not in the serving copy, or no business day in it
    (a merchant registered but not yet trading)."""

    def __init__(self, merchant_code: str) -> None:
        super().__init__(f"merchant {merchant_code} has no published data")
        self.merchant_code = merchant_code


@dataclass(frozen=True)
class Merchant:
    merchant_id: int
    merchant_code: str
    merchant_name: str
    as_of: date

    @property
    def label(self) -> str:
        return f"{self.merchant_code} · {self.merchant_name}"


def _merchant(row: pd.Series) -> Merchant:
    return Merchant(
        merchant_id=int(row["merchant_id"]),
        merchant_code=str(row["merchant_code"]),
        merchant_name=str(row["merchant_name"]),
        as_of=pd.Timestamp(row["as_of"]).date(),
    )


def merchant_picker(merchants: pd.DataFrame) -> None:
    labels = {int(row["merchant_id"]): _merchant(row).label for _, row in merchants.iterrows()}
    st.sidebar.selectbox(t("merchant_label"), list(labels), format_func=labels.__getitem__, key=MERCHANT_KEY)


def current_merchant() -> Merchant:
    """The signed-in account's merchant (for an admin, the one picked); never a default, so no
    page shows someone else's data."""
    user = signed_in_user()
    if user is None:
        raise LookupError("no one is signed in in this session")
    merchant_id = st.session_state.get(MERCHANT_KEY) if user.role == ADMIN_ROLE else user.merchant_id
    merchants = queries.merchants()
    chosen = merchants[merchants["merchant_id"] == merchant_id]
    if chosen.empty:
        raise NoDataYet(user.merchant_code or str(merchant_id))
    row = chosen.iloc[0]
    if pd.isna(row["as_of"]):
        raise NoDataYet(str(row["merchant_code"]))
    return _merchant(row)
