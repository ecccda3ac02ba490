"""A failed step in one line, where the terminal (the CLI) and ops (the failure alert) read it."""

from __future__ import annotations

import re

from dagster._utils.error import SerializableErrorInfo

MAX_LENGTH = 300
# Python names a raised class by its module path ("dagster._core.definitions.events.Failure: …");
# the class name is enough, and an asset's own Failure says all in its description.
QUALIFIED_CLASS = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*: )")
OWN_FAILURE = "Failure: "


def step_failure_line(step_key: str, error: SerializableErrorInfo | None) -> str:
    """`step KEY: <the innermost error>`: Dagster wraps the asset's own exception ("Error occurred
    while executing op …"), and the cause ops can act on is the innermost one. Its message's lines
    are joined, so a failed asset check names the checks listed below its first line."""
    while error is not None and error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in (error.message if error else "").splitlines() if line.strip()]
    text = QUALIFIED_CLASS.sub("", " ".join(lines)).removeprefix(OWN_FAILURE)
    return f"step {step_key}: {text[:MAX_LENGTH] or 'failed without a message'}"
