"""dbt group: staging, intermediate and marts, with dbt tests as Dagster asset checks.

Two definitions split the project at the `ml` source: the marts that read ML outputs back
(tag `ml`) run after the forecast asset, everything else before it.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dbt.cli.main import dbtRunner

from pipelines import settings
from pipelines.resources import RunSettings, WarehouseResource

DBT_SOURCE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv")


class CoopcastDbtTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, name], so raw.orders from ingestion is the dbt source raw.orders
    and ml.demand_forecasts from the ML group is the source ml.demand_forecasts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "dbt"


def _manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.stat().st_mtime > built
        for path in project_dir.rglob("*")
        if path.suffix in DBT_SOURCE_SUFFIXES and "target" not in path.parts
    )


def prepared_dbt_project() -> DbtProject:
    """The dbt project with a manifest that matches its files, parsing again when they changed."""
    target_dir = settings.dbt_target_dir()
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR, target_path=target_dir, profiles_dir=settings.DBT_PROJECT_DIR
    )
    if _manifest_is_stale(settings.DBT_PROJECT_DIR, project.manifest_path):
        os.environ.setdefault("COOPCAST_WAREHOUSE", str(settings.warehouse_path()))
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                str(target_dir),
                "--log-path",
                str(target_dir.parent / "logs"),
                "--quiet",
            ]
        )
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception}")
    return project


def _invocation_target(context: dg.AssetExecutionContext) -> Path:
    return settings.dbt_target_dir() / "runs" / f"{context.run_id}-{context.op_handle}"


def build_dbt_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    translator = CoopcastDbtTranslator()

    def build(context, dbt: DbtCliResource, run_settings: RunSettings, warehouse: WarehouseResource):
        os.environ["COOPCAST_WAREHOUSE"] = str(warehouse.warehouse_path())
        yield from dbt.cli(
            ["build", *run_settings.dbt_vars()], context=context, target_path=_invocation_target(context)
        ).stream()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude="tag:ml",
        name="dbt_warehouse_models",
        dagster_dbt_translator=translator,
    )
    def dbt_warehouse_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings, warehouse: WarehouseResource
    ):
        yield from build(context, dbt, run_settings, warehouse)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select="tag:ml",
        name="dbt_ml_marts",
        dagster_dbt_translator=translator,
    )
    def dbt_ml_marts(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings, warehouse: WarehouseResource
    ):
        yield from build(context, dbt, run_settings, warehouse)

    return [dbt_warehouse_models, dbt_ml_marts]
