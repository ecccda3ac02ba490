"""What `coopcast status` tells ops about the asset graph: freshness per group, failed checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg


@dataclass(frozen=True)
class GroupFreshness:
    group: str
    assets: int
    never_materialized: int
    # The group is as fresh as its stalest asset.
    oldest_materialization: datetime | None
    stale: tuple[str, ...]


def group_freshness(
    instance: dg.DagsterInstance, definitions: dg.Definitions, now: datetime | None = None
) -> list[GroupFreshness]:
    """Per group: when its stalest asset was last materialized, and the assets past their
    freshness policy's fail window. An asset never materialized is counted as such, not as past
    its policy: during the first run every later asset would otherwise read as overdue."""
    now = now or datetime.now(UTC)
    graph = definitions.resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    latest = {node.key: instance.get_latest_materialization_event(node.key) for node in nodes}
    groups: dict[str, list] = {}
    for node in nodes:
        groups.setdefault(node.group_name or "default", []).append(node)
    report = []
    for group, members in sorted(groups.items()):
        times = {
            node.key: datetime.fromtimestamp(latest[node.key].timestamp, UTC)
            for node in members
            if latest[node.key] is not None
        }
        stale = tuple(
            sorted(
                node.key.to_user_string()
                for node in members
                if node.freshness_policy is not None
                and node.key in times
                and now - times[node.key] > _fail_window(node.freshness_policy)
            )
        )
        report.append(
            GroupFreshness(
                group=group,
                assets=len(members),
                never_materialized=len(members) - len(times),
                oldest_materialization=min(times.values()) if times else None,
                stale=stale,
            )
        )
    return report


def _fail_window(policy) -> timedelta:
    return policy.fail_window.to_timedelta()


def failed_checks(instance: dg.DagsterInstance, definitions: dg.Definitions) -> list[str]:
    """Checks whose latest evaluation failed, as `asset: check`."""
    check_keys = list(definitions.resolve_asset_graph().asset_check_keys)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    return sorted(
        f"{key.asset_key.to_user_string()}: {key.name}"
        for key, record in latest.items()
        if record.status.value == "FAILED"
    )
