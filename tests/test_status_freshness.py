"""`coopcast status`'s freshness per group (pipelines/ops/status.py) on a real Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.ops.freshness import NIGHTLY
from pipelines.ops.status import group_freshness


@dg.asset(group_name="marts", freshness_policy=NIGHTLY)
def built_mart() -> int:
    return 1


@dg.asset(group_name="marts", freshness_policy=NIGHTLY)
def unbuilt_mart() -> int:
    return 2


@dg.asset(group_name="staging")
def staging_without_policy() -> int:
    return 3


def freshness_at(now: datetime) -> dict[str, object]:
    definitions = dg.Definitions(assets=[built_mart, unbuilt_mart, staging_without_policy])
    with dg.instance_for_test() as instance:
        dg.materialize([built_mart, staging_without_policy], instance=instance)
        return {group.group: group for group in group_freshness(instance, definitions, now=now)}


def test_an_asset_never_materialized_is_counted_as_never_not_as_overdue() -> None:
    marts = freshness_at(datetime.now(UTC))["marts"]

    assert (marts.assets, marts.never_materialized, marts.stale) == (2, 1, ())


def test_an_asset_past_its_fail_window_is_listed_and_one_without_a_policy_never_is() -> None:
    report = freshness_at(datetime.now(UTC) + timedelta(hours=31))

    assert report["marts"].stale == ("built_mart",)
    assert report["staging"].stale == ()
    assert report["staging"].oldest_materialization is not None
