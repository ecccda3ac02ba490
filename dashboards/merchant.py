"""Which merchant's data this session shows.

Until accounts exist a sidebar picker decides; sign-in will replace `merchant_picker` and the
body of `current_merchant`, and nothing else needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from dashboards import queries
from dashboards.i18n import t

MERCHANT_KEY = "merchant_id"


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
    """The merchant chosen in the sidebar; never a default, so no page shows someone else's data."""
    merchants = queries.merchants()
    chosen = merchants[merchants["merchant_id"] == st.session_state.get(MERCHANT_KEY)]
    if chosen.empty:
        raise LookupError("no merchant is chosen in this session")
    return _merchant(chosen.iloc[0])
