"""Reading the platform's environment settings where models and wiring both need them."""

from __future__ import annotations

import os
from collections.abc import Mapping


def whole_number_setting(name: str, default: int, counted: str, environ: Mapping[str, str] = os.environ) -> int:
    """The setting `name` as a whole number of `counted` things, 1 or more; `default` when unset or empty."""
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of {counted}, 1 or more, not {value!r}")
    return int(value)
