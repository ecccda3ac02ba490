"""数据脱敏: customers' phone numbers and personal names, hidden from roles that do not need them.

Sales works with customers by name and phone, owners and platform admins see everything; procurement
and finance see a customer's code with a masked name (张**) and a masked phone (138****5678). Every
customer name is masked, not only households': a village shop or a family farm is named after the
person who runs it (李庄小卖部, 王家庭农场), and the customer code is enough to follow up a payment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from dashboards.auth import signed_in_user
from dashboards.navigation import EVERY_ROLE, ROLES

ROLES_SEEING_PERSONAL_DATA = frozenset({"owner", "sales", "admin"})
MASK = "*"
PHONE_PREFIX, PHONE_SUFFIX = 3, 4


def current_role() -> str:
    """The role of the signed-in account (pages run only once someone has signed in)."""
    user = signed_in_user()
    if user is None:
        raise LookupError("no one is signed in in this session")
    return user.role


def sees_personal_data(role: str) -> bool:
    if role not in EVERY_ROLE:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role in ROLES_SEEING_PERSONAL_DATA


def mask_phone(phone: str) -> str:
    """138****5678: the carrier prefix and the last four digits stay, so a caller can still tell numbers apart."""
    digits = "".join(character for character in phone if character.isdigit())
    if len(digits) <= PHONE_PREFIX + PHONE_SUFFIX:
        return MASK * len(digits)
    return digits[:PHONE_PREFIX] + MASK * (len(digits) - PHONE_PREFIX - PHONE_SUFFIX) + digits[-PHONE_SUFFIX:]


def mask_name(name: str) -> str:
    """张** for 张伟强, L* for Li: the first character stays, at least one mask follows."""
    stripped = name.strip()
    if not stripped:
        return stripped
    return stripped[0] + MASK * max(len(stripped) - 1, 1)


def _masked(values: pd.Series, mask: Callable[[str], str]) -> pd.Series:
    return values.map(lambda value: mask(str(value)) if pd.notna(value) else value)


def mask_customers(
    frame: pd.DataFrame,
    role: str,
    *,
    name_columns: Iterable[str] = ("customer_name",),
    phone_columns: Iterable[str] = (),
) -> pd.DataFrame:
    """The frame as `role` may see it: customer names and phones masked for roles that do not need them."""
    if sees_personal_data(role):
        return frame
    masked = frame.copy()
    for column in name_columns:
        masked[column] = _masked(frame[column], mask_name)
    for column in phone_columns:
        masked[column] = _masked(frame[column], mask_phone)
    return masked
