"""One ingestion in its own process, for tests/test_ingest_kill.py to kill with SIGKILL.

`python -m tests.ingest_kill_worker URL WAREHOUSE [--full]` prints `started` once its imports
are done (so the test's random delay falls inside the ingestion) and `done` after the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.ingest import ingest


def main(arguments: list[str]) -> None:
    url, warehouse = arguments[:2]
    print("started", flush=True)
    ingest(url, Path(warehouse), full="--full" in arguments)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
