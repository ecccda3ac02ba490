"""`coopcast docs`: the dbt documentation generated from the serving copy and served to analysts,
the site's own files only, on a port that was free."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.api_support import free_port
from tests.conftest import REPO_ROOT, PipelineRun, run_cli

pytestmark = pytest.mark.slow


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_the_docs_site_serves_the_documentation_and_nothing_else(pipeline_run: PipelineRun) -> None:
    port = free_port()
    site = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "docs", "--port", str(port)],
        cwd=REPO_ROOT,
        env=pipeline_run.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, page = None, b""
        deadline = time.monotonic() + 300
        while site.poll() is None and time.monotonic() < deadline:
            try:
                status, page = fetch(f"http://127.0.0.1:{port}/")
                break
            except (urllib.error.URLError, TimeoutError):
                # Refused until the port is taken; then unanswered while the docs are generated.
                time.sleep(0.5)
        assert site.poll() is None, site.stdout.read()
        assert status == 200 and b"dbt" in page
        status, catalog = fetch(f"http://127.0.0.1:{port}/catalog.json")
        assert status == 200 and "model.coopcast.fct_inventory_flags" in json.loads(catalog)["nodes"]
        # dbt's parse state and compiled SQL sit in the same folder; they are not the site's.
        for name in ("partial_parse.msgpack", "graph.gpickle", "run_results.json", "compiled/"):
            assert fetch(f"http://127.0.0.1:{port}/{name}")[0] == 404, name

        # A second site on the same port is refused in one line, not with a traceback.
        busy = run_cli(pipeline_run, "docs", "--port", str(port), check=False)
        assert busy.returncode == 1
        assert busy.stderr.strip().splitlines()[-1] == (
            f"error: port {port} is in use on 127.0.0.1: choose another with --port"
        )
    finally:
        site.terminate()
        site.wait(timeout=30)
