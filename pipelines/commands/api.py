"""`coopcast api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from pipelines.cli_common import console, one_line_errors, prepare
from pipelines.settings import API_PORT
from transactional import db


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


@one_line_errors
def api(
    port: Annotated[int, typer.Option(help="Port to listen on")] = API_PORT,
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    pool_size: Annotated[int, typer.Option("--pool-size", help="Database connections at most")] = 10,
) -> None:
    """Serve the HTTP API: /orders, /stock, /purchase-orders, /funnel-events; docs at /docs."""
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it
    # found: the default one would end the process before its exit hooks run, and the embedded
    # PostgreSQL, which stops when the last process using it exits, would count this one forever.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    import uvicorn

    from transactional.api import create_app

    prepare()
    app_url = db.app_database_url()
    console.print(f"API         http://{host}:{port} (docs /docs, schema /openapi.json)")
    console.print(f"PostgreSQL  {db.describe(app_url)} as {db.APP_ROLE}, subject to row security")
    uvicorn.run(create_app(app_url, pool_size=pool_size), host=host, port=port)
