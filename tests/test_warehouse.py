import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import warehouse
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("read_only", [False, True])
def test_warehouse_connections_draw_no_progress_bar_among_what_commands_print(tmp_path: Path, read_only: bool) -> None:
    # In a process of its own: DuckDB turns its bar on or off by how Python was started, and a
    # command (`python -c`, a console script) is where it draws one.
    path = tmp_path / "warehouse.duckdb"
    warehouse.connect(path).close()
    setting = (
        "import sys; from pathlib import Path; from pipelines import warehouse\n"
        f"conn = warehouse.connect(Path(sys.argv[1]), read_only={read_only})\n"
        "print(conn.execute(\"SELECT value FROM duckdb_settings() WHERE name = 'enable_progress_bar'\").fetchone()[0])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", setting, str(path)], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "false"
