"""dbt assets: staging, intermediate and marts (one group per folder), dbt tests as asset checks.

Three definitions split the project: the large daily facts (tag `daily_partitioned`, daily
partitions in Asia/Shanghai so ops can backfill days from the UI), the marts that read ML outputs
back (tag `ml`, after the forecast asset), and everything else.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from packaging.version import Version

from pipelines import dbt_child, settings
from pipelines import warehouse as duck
from pipelines.assets import fact_windows
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, RunSettings, WarehouseResource

DBT_SOURCE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv")
PARTITIONED_TAG = "daily_partitioned"
ML_TAG = "ml"
BUSINESS_TIMEZONE = "Asia/Shanghai"
# The first business day a backfill can ask for; runs without a partition cover all history.
DAILY_PARTITIONS_START = "2024-01-01"
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=DAILY_PARTITIONS_START, timezone=BUSINESS_TIMEZONE)
PREVIEW_ROWS = 5
INDIRECT_SELECTION = "buildable"


class InstalledDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told the version of the dbt it runs instead of asking.

    Before a run's first dbt invocation DbtCliResource runs `dbt --version` to learn which engine
    it starts, and that command also asks pypi.org for the latest dbt-core and adapters: three
    requests the platform, which runs offline, must not make (each waits up to a second when
    nobody answers), and about 3 s of a process starting. The executable here is
    pipelines.dbt_child, the dbt-core installed beside dagster-dbt, whose version dagster-dbt
    already read from the package.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if DBT_PYTHON_VERSION is None:
            raise RuntimeError("dbt-core is not installed: run `make install`")
        return DBT_PYTHON_VERSION


class CoopcastDbtTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, name], so raw.orders from ingestion is the dbt source raw.orders
    and ml.demand_forecasts from the ML group is the source ml.demand_forecasts. Groups are the
    model's folder; kinds stay dagster-dbt's own ({"dbt", "duckdb"})."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name != "marts":
            return spec
        weekly = ML_TAG in self.get_resource_props(manifest, unique_id).get("tags", [])
        return spec.replace_attributes(freshness_policy=freshness.WEEKLY if weekly else freshness.NIGHTLY)


def packaged_manifest_dir() -> Path:
    """Where `make install` writes the manifest: inside the checkout, next to the models it describes."""
    return settings.DBT_PROJECT_DIR / "target"


def manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.stat().st_mtime > built
        for path in project_dir.rglob("*")
        if path.suffix in DBT_SOURCE_SUFFIXES and "target" not in path.parts
    )


def prepare_manifest() -> Path:
    """Parse the project once into the packaged target (`make install` runs this). The manifest
    is written beside and renamed into place, so a process loading the code location meanwhile
    reads the old or the new one, never half."""
    from dbt.cli.main import dbtRunner

    target = packaged_manifest_dir()
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
    try:
        os.environ.setdefault("COOPCAST_WAREHOUSE", str(settings.warehouse_path()))
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                str(scratch),
                "--log-path",
                str(scratch / "logs"),
                "--quiet",
            ]
        )
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception}")
        os.replace(scratch / "manifest.json", target / "manifest.json")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / "manifest.json"


def prepared_dbt_project() -> DbtProject:
    """The dbt project with the manifest `make install` prepared. Only a checkout whose models
    were edited since (development) is parsed again here."""
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        target_path=packaged_manifest_dir(),
        profiles_dir=settings.DBT_PROJECT_DIR,
    )
    if manifest_is_stale(settings.DBT_PROJECT_DIR, project.manifest_path):
        prepare_manifest()
    return project


# dbt's saved parse of the project: an invocation given it parses only the files that changed
# since, instead of the whole project (about 5 s of each of the four dbt steps of a build). It is
# taken only from a full parse: the state an invocation writes after a partial parse is one the
# next invocation refuses. dbt also refuses a state taken with another profile, and the profile
# holds the warehouse path, so the state is kept under the path's fingerprint: a home moved or
# copied elsewhere takes a new one instead of parsing the whole project at every step.
PARSE_STATE = "partial_parse.msgpack"
KEPT_PARSE_STATE = "partial_parse-{warehouse}.msgpack"
# The run vars dbt reads from the environment (macros/business_rules.sql, run_var). Passed as
# --vars, any change of them (each build's window of the daily facts) made dbt parse the whole
# project again; as environment variables, only the files that read them are parsed again.
RUN_VARS = ("as_of", "partition_start", "partition_end")
RUN_VAR_PREFIX = "COOPCAST_VAR_"


def _kept_parse_state(warehouse_path: Path) -> Path:
    fingerprint = hashlib.sha256(str(warehouse_path).encode()).hexdigest()[:16]
    return settings.dbt_target_dir() / KEPT_PARSE_STATE.format(warehouse=fingerprint)


def _reusable_parse_state(warehouse_path: Path) -> Path | None:
    """The saved parse for this warehouse, unless a model changed or the project was installed
    (perhaps with another dbt) since it was taken."""
    state = _kept_parse_state(warehouse_path)
    if manifest_is_stale(settings.DBT_PROJECT_DIR, state):
        return None
    installed = packaged_manifest_dir() / "manifest.json"
    return None if installed.exists() and installed.stat().st_mtime > state.stat().st_mtime else state


@contextmanager
def _run_vars_in_environment(run_vars: Mapping[str, str]) -> Iterator[None]:
    """The environment dbt starts in holds these run vars (and no other's leftover value)."""
    unknown = set(run_vars) - set(RUN_VARS)
    if unknown:
        raise ValueError(f"not a dbt run var: {sorted(unknown)}")
    names = {name: RUN_VAR_PREFIX + name.upper() for name in RUN_VARS}
    saved = {variable: os.environ.get(variable) for variable in names.values()}
    os.environ.update({variable: str(run_vars.get(name, "")) for name, variable in names.items()})
    try:
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def _invocation_target(context: dg.AssetExecutionContext) -> Path:
    return settings.dbt_target_dir() / "runs" / f"{context.run_id}-{context.op_handle}"


def table_metadata(conn, relation: dg.AssetKey) -> dict[str, Any]:
    """Row count, column schema and the first rows of a built model, as the warehouse holds them."""
    schema, name = relation.path
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    if not columns:
        return {}
    count = conn.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()
    preview = conn.execute(f'SELECT * FROM {schema}."{name}" LIMIT {PREVIEW_ROWS}').df()
    return {
        "dagster/row_count": int(count[0]) if count else 0,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(column, data_type) for column, data_type in columns]
        ),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
    }


def _with_table_metadata(
    context: dg.AssetExecutionContext, events: Iterable[Any], warehouse_path: Path
) -> Iterator[Any]:
    """dbt's events, each model's materialization carrying its table's metadata.

    dbt holds the warehouse's only write lock until it exits, and DuckDB refuses any other
    connection meanwhile (dagster-dbt's fetch_row_counts would fail), so the events are held
    until dbt is done, then read from the warehouse and passed on, also when dbt failed.
    """
    received: list[Any] = []
    failure: DagsterDbtCliRuntimeError | None = None
    try:
        received.extend(events)
    except DagsterDbtCliRuntimeError as error:
        failure = error
    conn = duck.connect(warehouse_path, read_only=True)
    try:
        for event in received:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                yield event.with_metadata({**event.metadata, **table_metadata(conn, key)})
            else:
                yield event
    finally:
        conn.close()
    if failure is not None:
        raise failure


def failed_nodes(run_results: Path) -> list[str]:
    """Each model, test or snapshot an invocation failed, as `test NAME failed: dbt's first line`."""
    if not run_results.exists():
        return []
    failed = []
    for result in json.loads(run_results.read_text())["results"]:
        if result["status"] not in ("error", "fail"):
            continue
        kind, *_, name = result["unique_id"].split(".")
        reason = next((line.strip() for line in (result.get("message") or "").splitlines() if line.strip()), "")
        failed.append(f"{kind} {name} {'failed' if result['status'] == 'fail' else 'errored'}: {reason}")
    return failed


# Unit tests check the SQL, not the days: they run with whole builds, where no window filters out
# their fixtures (and the SQL of the daily facts changing forces a whole build).
WINDOWED_BUILD_OPTIONS = ("--exclude-resource-type", "unit_test")


def _chose_days(context: dg.AssetExecutionContext) -> bool:
    """Whether the run names its days: one partition (the UI's Materialize of a single date sets only
    `dagster/partition`, which has_partition_key_range does not count) or a range (a backfill)."""
    return context.has_partition_key or context.has_partition_key_range


def _partition_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The run's window as business dates [start, end), or nothing for an unpartitioned run."""
    if not _chose_days(context):
        return {}
    window = context.partition_time_window
    return {"partition_start": window.start.date().isoformat(), "partition_end": window.end.date().isoformat()}


def _partition_options(context: dg.AssetExecutionContext) -> tuple[tuple[str, ...], dict[str, str]]:
    """dbt options and vars of a partitioned definition's run, when a backfill chose its days.

    A backfill of days rebuilds those days in one dbt run.
    """
    return WINDOWED_BUILD_OPTIONS, _partition_vars(context)


def _plan_fact_window(
    context: dg.AssetExecutionContext, project: DbtProject, run_settings: RunSettings, warehouse: WarehouseResource
) -> tuple[fact_windows.FactWindow, str]:
    """A run without partitions (nightly, `coopcast run`) rebuilds the days whose rows changed."""
    checksum = fact_windows.models_checksum(json.loads(project.manifest_path.read_text()), PARTITIONED_TAG)
    fact_tables = [(key.path[0], key.path[-1]) for key in context.selected_asset_keys]
    conn = duck.connect(warehouse.warehouse_path(), read_only=True)
    try:
        window = fact_windows.plan_window(conn, fact_tables, run_settings.as_of, checksum, run_settings.full_refresh)
    finally:
        conn.close()
    context.log.info(
        f"daily facts: {'full refresh' if window.full_refresh else f'rebuilding from {window.start}'} ({window.reason})"
    )
    return window, checksum


def _record_fact_build(
    context: dg.AssetExecutionContext,
    every_fact: AbstractSet[dg.AssetKey],
    warehouse: WarehouseResource,
    fact_window: fact_windows.FactWindow,
    as_of: str,
    checksum: str,
) -> None:
    """The next run starts from this build's state only if it built every daily fact: one state
    stands for them all, so recording it after a few of them would leave the others unbuilt for
    good (the next run would see nothing new)."""
    if context.selected_asset_keys != every_fact:
        context.log.info("daily facts: only some were built, so the next run still rebuilds all of them from before")
        return
    conn = duck.connect(warehouse.warehouse_path())
    try:
        fact_windows.record_build(conn, fact_window, as_of, checksum)
    finally:
        conn.close()


def _run_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    run_settings: RunSettings,
    warehouse: WarehouseResource,
    extra_args: Iterable[str] = (),
    extra_vars: dict[str, str] | None = None,
) -> Iterator[Any]:
    os.environ["COOPCAST_WAREHOUSE"] = str(warehouse.warehouse_path())
    os.environ[dbt_child.PARENT_VARIABLE] = str(os.getpid())
    # The models run in several dbt invocations (the daily facts apart, and the marts built on
    # them after). dbt's default (eager) runs a test as soon as any model it reads is selected,
    # so a relationships test between a mart and a dimension would run with the dimension, before
    # the mart is built; buildable runs it with the invocation that builds its last model.
    os.environ["DBT_INDIRECT_SELECTION"] = INDIRECT_SELECTION
    parse_state = _reusable_parse_state(warehouse.warehouse_path())
    target = _invocation_target(context)
    saved_parse = ("--partial-parse-file-path", str(parse_state)) if parse_state else ()
    # dbt starts here, with a copy of the environment.
    with _run_vars_in_environment(run_settings.dbt_run_vars(extra_vars)):
        invocation = dbt.cli(["build", *extra_args, *saved_parse], context=context, target_path=target)
    try:
        yield from _with_table_metadata(context, invocation.stream(), warehouse.warehouse_path())
    except DagsterDbtCliRuntimeError as error:
        # dagster-dbt's error names the command, cut off before any failed test or model: the
        # nodes that failed and dbt's own words for why are what the CLI line and the alert need.
        failed = failed_nodes(target / "run_results.json")
        if not failed:
            raise
        raise dg.Failure(description=f"dbt build: {'; '.join(failed)}") from error
    if parse_state is None and (target / PARSE_STATE).exists():
        # Copied beside and renamed into place: a reader sees the old state or the new, never half.
        kept = _kept_parse_state(warehouse.warehouse_path())
        staged = kept.with_name(f".{kept.name}.{context.run_id}")
        shutil.copyfile(target / PARSE_STATE, staged)
        os.replace(staged, kept)
    # The one state a home kept for every warehouse alike, before the fingerprint: nothing reads it.
    (settings.dbt_target_dir() / PARSE_STATE).unlink(missing_ok=True)


def _define_dbt_assets(
    project: DbtProject,
    name: str,
    select: str = "fqn:*",
    exclude: str = "",
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=select,
        exclude=exclude,
        name=name,
        dagster_dbt_translator=CoopcastDbtTranslator(),
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        pool=DUCKDB_WRITER_POOL,
    )
    def models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings, warehouse: WarehouseResource
    ):
        if partitions_def is None:
            yield from _run_dbt(context, dbt, run_settings, warehouse)
        elif _chose_days(context):
            options, window = _partition_options(context)
            yield from _run_dbt(context, dbt, run_settings, warehouse, options, window)
        else:
            fact_window, checksum = _plan_fact_window(context, project, run_settings, warehouse)
            options = ("--full-refresh",) if fact_window.full_refresh else WINDOWED_BUILD_OPTIONS
            yield from _run_dbt(context, dbt, run_settings, warehouse, options, fact_window.dbt_vars())
            _record_fact_build(context, every_fact, warehouse, fact_window, run_settings.as_of, checksum)

    # The whole definition's keys: inside a run that selected some of them, context.assets_def is
    # the subset.
    every_fact = models.keys
    return models


def build_dbt_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    return [
        _define_dbt_assets(project, "dbt_warehouse_models", exclude=f"tag:{ML_TAG} tag:{PARTITIONED_TAG}"),
        _define_dbt_assets(
            project, "dbt_daily_facts", select=f"tag:{PARTITIONED_TAG}", partitions_def=DAILY_PARTITIONS
        ),
        _define_dbt_assets(project, "dbt_ml_marts", select=f"tag:{ML_TAG}"),
    ]
