"""The CLI's Dagster instance keeps its event log in Dagster's SQLite files, through connections it
keeps open: what one process writes, another (the UI, the daemon) reads, and a long-lived process
does not keep every finished run's file open."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from pipelines.ops.event_log_storage import RUN_SHARDS_KEPT_OPEN, OpenConnectionSqliteEventLogStorage
from pipelines.ops.instance import ensure_instance


@dg.asset(group_name="test", check_specs=[dg.AssetCheckSpec("counted", asset="shelf_count")])
def shelf_count():
    yield dg.Output(12)
    yield dg.AssetCheckResult(passed=True, metadata={"counted": 12})


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ensure_instance(home)
    return home


def _open_run_shards(events_dir: Path) -> set[str]:
    """Run shards (one SQLite file per run) this process holds open."""
    shards = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
        if target.parent == events_dir and target.suffix == ".db" and target.stem != "index":
            shards.add(target.stem)
    return shards


def test_runs_written_through_open_connections_are_read_by_another_instance(dagster_home):
    events_dir = dagster_home / "history" / "runs"
    with dg.DagsterInstance.get() as writer:
        assert isinstance(writer.event_log_storage, OpenConnectionSqliteEventLogStorage)
        run_ids = [dg.materialize([shelf_count], instance=writer).run_id for _ in range(RUN_SHARDS_KEPT_OPEN + 2)]
        still_open = _open_run_shards(events_dir)
        assert still_open <= set(run_ids[-RUN_SHARDS_KEPT_OPEN:]), "an older run's shard stays open"
        assert run_ids[-1] in still_open

        # The UI and the daemon read the same files with their own instance, while the writer
        # still holds its connections.
        with dg.DagsterInstance.from_config(str(dagster_home)) as reader:
            for run_id in run_ids:
                assert reader.get_run_by_id(run_id).is_success
                assert reader.get_run_stats(run_id).materializations == 1
            materializations = reader.fetch_materializations(dg.AssetKey("shelf_count"), limit=100).records
            assert {record.run_id for record in materializations} == set(run_ids)
            evaluation = reader.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey("shelf_count"), "counted")]
            )[dg.AssetCheckKey(dg.AssetKey("shelf_count"), "counted")]
            assert evaluation.run_id == run_ids[-1]
            assert evaluation.status == AssetCheckExecutionRecordStatus.SUCCEEDED


def test_a_wiped_instance_closes_its_connections_and_records_new_runs(dagster_home):
    events_dir = dagster_home / "history" / "runs"
    with dg.DagsterInstance.get() as instance:
        old_run = dg.materialize([shelf_count], instance=instance).run_id
        instance.wipe()
        assert _open_run_shards(events_dir) == set()
        assert not (events_dir / f"{old_run}.db").exists()

        new_run = dg.materialize([shelf_count], instance=instance).run_id
        assert instance.get_run_stats(new_run).materializations == 1
        [record] = instance.fetch_materializations(dg.AssetKey("shelf_count"), limit=10).records
        assert record.run_id == new_run
