"""What every benchmark reports the same way: a figure's spread over repeats, the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def spread(samples: list[float], digits: int = 3) -> dict[str, float]:
    """Median, min and max of a figure's repeats (one repeat: all three equal)."""
    return {
        "median": round(statistics.median(samples), digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
    }


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of `repeats` calls of `action` took."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def rates(count: int, seconds: list[float]) -> list[float]:
    """`count` things per second, for each timed repeat."""
    return [count / elapsed for elapsed in seconds if elapsed > 0]


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}


def write_result(output: Path, benchmark: str, figures: dict) -> None:
    """A stand-alone benchmark's JSON (its name, date and machine, then its figures), also printed."""
    result = {
        "benchmark": benchmark,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
