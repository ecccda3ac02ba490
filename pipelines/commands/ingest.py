"""`coopcast ingest [--full]`: bring DuckDB raw.* up to PostgreSQL, through Dagster so the run
and its reconciliation checks show in the UI."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines import settings
from pipelines.cli_common import one_line_errors
from pipelines.ingest import forget_state


@one_line_errors
def ingest(full: Annotated[bool, typer.Option("--full", help="Copy every table whole")] = False) -> None:
    """Copy into DuckDB raw.* what changed in PostgreSQL core since the last ingestion, exactly once.

    With --full every table is copied whole (the first ingestion always is).
    """
    # Imported here: pipelines.cli registers this command, and its runner lives there.
    from pipelines.cli import _materialize

    if full:
        forget_state(settings.warehouse_path())
    _materialize("Full ingestion" if full else "Ingest", ("ingest",))
