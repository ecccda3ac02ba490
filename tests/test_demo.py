"""`make demo`'s command on an empty database: the tests' pipeline is built by it
(tests/pipeline_build.py), from an empty database to its three servers answering, and stopped as
Ctrl+C would; here is how it went."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import DEMO_LOG, DEMO_OUTCOME


def test_demo_simulates_runs_and_serves_on_an_empty_database(pipeline_build_folder: Path) -> None:
    outcome = json.loads((pipeline_build_folder / DEMO_OUTCOME).read_text())
    printed = (pipeline_build_folder / DEMO_LOG).read_text()
    assert outcome["answered"], printed[-3000:]
    assert outcome["returncode"] == 0, printed[-3000:]
    assert outcome["answering_after_stop"] == [], "the servers outlived the demo"
    for step in ("Simulated ", "Run: ", "Workbooks ", "Demo login  demo / ", "Dashboard   http://localhost:"):
        assert step in printed, printed[-3000:]
    # No library warnings among what a newcomer reads first.
    assert not re.search(r"\w+Warning: ", printed), printed[-3000:]
