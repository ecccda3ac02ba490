"""The cluster configuration in deploy/ holds the settings docs/scaling.md relies on, and the keys
the pinned dagster reads, so moving from one machine to a cluster stays a change of configuration."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from psycopg.conninfo import conninfo_to_dict

from pipelines.ops.instance import WAREHOUSE_WRITERS_AT_ONCE
from pipelines.ops.sensors import new_data_sensor
from pipelines.resources import PostgresResource, WarehouseResource
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
CODE_LOCATION_MODULE = "pipelines.definitions"


@pytest.fixture(scope="module")
def instance_yaml() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


@pytest.fixture(scope="module")
def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _only_deployment(helm_values: dict) -> dict:
    (deployment,) = helm_values["dagster-user-deployments"]["deployments"]
    return deployment


def test_the_instance_file_passes_the_pinned_dagsters_own_validation() -> None:
    # The schema check dagster runs when an instance starts (unknown keys, the pools and run
    # limits, the storage's fields), without connecting to the storage or the cluster.
    config, _custom_instance_class = dagster_instance_config(str(DEPLOY))
    assert config["storage"]["postgres"]


def test_the_run_launcher_config_passes_the_pinned_dagster_k8s_schema(instance_yaml) -> None:
    # The instance check above takes the launcher's config as opaque; K8sRunLauncher's own schema
    # (dagster-k8s, pinned with dagster) rejects a misspelt or unknown key.
    launcher = instance_yaml["run_launcher"]
    launcher_class = getattr(importlib.import_module(launcher["module"]), launcher["class"])
    checked = process_config(resolve_to_config_type(launcher_class.config_type()), launcher["config"])
    assert checked.success, [error.message for error in checked.errors]


def test_dagster_keeps_its_runs_in_postgresql_through_the_instance_files_storage(
    instance_yaml, database_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The file's storage section as written, its DAGSTER_PG_* variables pointed at a database of
    # the test server; a materialization's run and events must land in PostgreSQL and read back.
    url = database_factory()
    connection = conninfo_to_dict(url)
    host = connection.get("host", "127.0.0.1")
    socket_dir = host if host.startswith("/") else None
    storage = {"postgres": {"postgres_db": dict(instance_yaml["storage"]["postgres"]["postgres_db"])}}
    if socket_dir:
        # The embedded test server listens on a Unix socket only; libpq takes its directory as a param.
        storage["postgres"]["postgres_db"]["params"] = {"host": socket_dir}
    for variable, value in {
        "DAGSTER_PG_USERNAME": connection.get("user", "postgres"),
        "DAGSTER_PG_PASSWORD": connection.get("password", ""),
        "DAGSTER_PG_HOST": "localhost" if socket_dir else host,
        "DAGSTER_PG_DB": connection["dbname"],
        "DAGSTER_PG_PORT": connection.get("port", "5432"),
    }.items():
        monkeypatch.setenv(variable, value)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage}))

    @dg.asset
    def stored_on_postgres() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")
        result = dg.materialize([stored_on_postgres], instance=instance)
        assert result.success
        (run,) = instance.get_runs()
        assert run.run_id == result.run_id
        assert instance.get_latest_materialization_event(stored_on_postgres.key) is not None
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id = %s", [result.run_id]).fetchone()[0] == 1


def test_dagsters_storage_is_postgres_with_every_credential_from_the_environment(instance_yaml) -> None:
    (kind,) = instance_yaml["storage"]
    assert kind == "postgres"
    connection = instance_yaml["storage"]["postgres"]["postgres_db"]
    for field in ("username", "password", "hostname", "db_name", "port"):
        assert set(connection[field]) == {"env"}, f"{field} is written into the file"


def test_the_chart_and_the_file_connect_to_dagsters_database_with_the_same_driver(instance_yaml, helm_values) -> None:
    scheme = instance_yaml["storage"]["postgres"]["postgres_db"]["scheme"]
    assert helm_values["postgresql"]["postgresqlScheme"] == scheme
    assert importlib.util.find_spec(scheme.split("+", 1)[1]) is not None


def test_the_helm_chart_uses_an_external_postgres_and_a_secret_it_does_not_generate(helm_values) -> None:
    assert helm_values["postgresql"]["enabled"] is False
    assert helm_values["postgresql"]["postgresqlHost"]
    assert "postgresqlPassword" not in helm_values["postgresql"]
    assert helm_values["generatePostgresqlPasswordSecret"] is False
    assert helm_values["global"]["postgresqlSecretName"]


def test_each_run_is_a_kubernetes_job(instance_yaml, helm_values) -> None:
    launcher = instance_yaml["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert launcher["config"]["postgres_password_secret"] == helm_values["global"]["postgresqlSecretName"]
    assert helm_values["runLauncher"]["type"] == "K8sRunLauncher"


def test_runs_are_queued_by_a_coordinator_the_pinned_dagster_has(instance_yaml, helm_values) -> None:
    coordinator = instance_yaml["run_coordinator"]
    assert getattr(importlib.import_module(coordinator["module"]), coordinator["class"]) is dg.QueuedRunCoordinator
    assert helm_values["dagsterDaemon"]["runCoordinator"] == {"enabled": True, "type": "QueuedRunCoordinator"}


def test_one_run_at_a_time_holds_the_duckdb_writer_pool_as_on_one_machine(instance_yaml, helm_values) -> None:
    pools = instance_yaml["concurrency"]["pools"]
    assert pools == {"default_limit": WAREHOUSE_WRITERS_AT_ONCE, "granularity": "run"}
    chart = helm_values["concurrency"]
    assert chart["enabled"] is True
    assert chart["pools"] == {"defaultLimit": pools["default_limit"], "granularity": pools["granularity"]}
    runs = instance_yaml["concurrency"]["runs"]
    assert chart["runs"] == {
        "maxConcurrentRuns": runs["max_concurrent_runs"],
        "tagConcurrencyLimits": runs["tag_concurrency_limits"],
    }


def test_the_new_data_sensors_runs_are_limited_to_the_pools_one_writer(instance_yaml, tmp_path) -> None:
    # The sensor's own run request (the warehouse absent, so it asks without reading PostgreSQL)
    # carries the tag the limit names.
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "postgres": PostgresResource(url="postgresql://unused@127.0.0.1:5432/unused"),
                "warehouse": WarehouseResource(path=str(tmp_path / "absent.duckdb")),
            },
        )
        request = new_data_sensor(context)
    assert isinstance(request, dg.RunRequest)
    limited = {
        (limit["key"], limit["value"]): limit["limit"]
        for limit in instance_yaml["concurrency"]["runs"]["tag_concurrency_limits"]
    }
    (sensor_tag,) = request.tags.items()
    assert limited[sensor_tag] == WAREHOUSE_WRITERS_AT_ONCE


def test_the_user_deployment_serves_the_code_location_module(helm_values) -> None:
    deployment = _only_deployment(helm_values)
    assert deployment["dagsterApiGrpcArgs"] == ["-m", CODE_LOCATION_MODULE]
    assert importlib.util.find_spec(CODE_LOCATION_MODULE) is not None
    assert deployment["image"]["tag"] not in ("", "latest")


def test_runs_and_the_code_server_see_the_same_secrets_and_coopcast_home(instance_yaml, helm_values) -> None:
    deployment = _only_deployment(helm_values)
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    chart_launcher = helm_values["runLauncher"]["config"]["k8sRunLauncher"]
    instance_launcher = instance_yaml["run_launcher"]["config"]
    secrets = [secret["name"] for secret in deployment["envSecrets"]]
    assert [secret["name"] for secret in chart_launcher["envSecrets"]] == secrets
    assert instance_launcher["env_secrets"] == secrets

    def claims_and_mounts(volumes: list[dict], mounts: list[dict], claim: str, path: str) -> set[tuple]:
        by_name = {volume["name"]: volume[claim] for volume in volumes}
        return {(next(iter(by_name[mount["name"]].values())), mount[path]) for mount in mounts}

    code_server = claims_and_mounts(
        deployment["volumes"], deployment["volumeMounts"], "persistentVolumeClaim", "mountPath"
    )
    assert code_server == claims_and_mounts(
        chart_launcher["volumes"], chart_launcher["volumeMounts"], "persistentVolumeClaim", "mountPath"
    )
    assert code_server == claims_and_mounts(
        instance_launcher["volumes"], instance_launcher["volume_mounts"], "persistent_volume_claim", "mount_path"
    )
    assert chart_launcher["resources"] == instance_launcher["resources"]
