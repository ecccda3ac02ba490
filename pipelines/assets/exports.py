"""Exports group: procurement workbooks and the serving copy readers use."""

from collections.abc import Iterable

import dagster as dg

from pipelines.exports import export_replenishment
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource
from pipelines.serving import publish

REPLENISHMENT_SUGGESTIONS = dg.AssetKey(["marts", "fct_replenishment_suggestions"])
REPLENISHMENT_WORKBOOKS = dg.AssetKey(["exports", "replenishment_workbooks"])


@dg.asset(
    key=REPLENISHMENT_WORKBOOKS,
    group_name="exports",
    kinds={"excel"},
    pool=DUCKDB_WRITER_POOL,
    deps=[REPLENISHMENT_SUGGESTIONS],
    description="exports/replenishment_<merchant>_<as_of>.xlsx: a summary sheet and one sheet per supplier.",
)
def replenishment_workbooks(warehouse: WarehouseResource) -> dg.MaterializeResult:
    written = export_replenishment(warehouse.warehouse_path(), warehouse.exports_dir())
    return dg.MaterializeResult(
        metadata={"files": dg.MetadataValue.json([str(path) for path in written]), "workbooks": len(written)}
    )


def build_serving_asset(published_upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    """The serving copy depends on every mart and ML table, so it is published last in a run."""

    @dg.asset(
        key=["serving", "warehouse"],
        group_name="serving",
        kinds={"duckdb"},
        pool=DUCKDB_WRITER_POOL,
        deps=[*sorted(published_upstream, key=lambda key: key.to_user_string()), REPLENISHMENT_WORKBOOKS],
        description="Read-only copy of marts.* and ml.* at $COOPCAST_HOME/serving/warehouse.duckdb, "
        "replaced atomically after each successful run.",
    )
    def serving_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
        row_counts = publish(warehouse.warehouse_path(), warehouse.serving_path())
        return dg.MaterializeResult(
            metadata={"path": str(warehouse.serving_path()), "tables": dg.MetadataValue.json(row_counts)}
        )

    return serving_warehouse
