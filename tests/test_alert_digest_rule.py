"""The daily digest's rule on hand-made frames: what is flagged, and what of it is new since the
merchant's previous digest (models/alerts/digest.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from models.alerts.digest import flagged_items, mark_new, summarize

M1, M2 = 1, 2


def frame(rows: tuple[tuple, ...], columns: list[str]) -> pd.DataFrame:
    made = pd.DataFrame(list(rows), columns=columns)
    return made.assign(merchant_code=made["merchant_id"].map(lambda merchant: f"M{merchant}"))


def flags(*rows: tuple) -> pd.DataFrame:
    """(merchant_id, sku_code, warehouse_code, available, threshold, is_low_stock, is_active)"""
    columns = ["merchant_id", "sku_code", "warehouse_code", "available", "low_stock_threshold", "is_low_stock"]
    return frame(rows, [*columns, "is_active"]).assign(sku_name="大米 5kg")


def batches(*rows: tuple) -> pd.DataFrame:
    """(merchant_id, sku_code, warehouse_code, batch_id, near_expiry_level, days_to_expiry, on_hand, value)"""
    columns = ["merchant_id", "sku_code", "warehouse_code", "batch_id", "near_expiry_level", "days_to_expiry"]
    made = frame(rows, [*columns, "on_hand", "value_at_risk"])
    return made.assign(
        sku_name="酱油", lot_code="L" + made["batch_id"].astype(str), expiry_date=pd.Timestamp("2026-12-01")
    )


def scores(*rows: tuple) -> pd.DataFrame:
    """(merchant_id, customer_code, status, churn_risk)"""
    made = frame(rows, ["merchant_id", "customer_code", "status", "churn_risk"])
    return made.assign(reasons=[np.array(["falling_frequency"], dtype=object)] * len(made))


NO_FLAGS, NO_BATCHES, NO_SCORES = flags(), batches(), scores()


def new_keys(digest: pd.DataFrame) -> set[tuple[int, str, str]]:
    new = digest[digest["is_new"]]
    return set(zip(new["merchant_id"], new["kind"], new["item_key"], strict=True))


def test_only_low_stock_listed_skus_near_expiry_batches_and_at_risk_customers_are_flagged() -> None:
    items = flagged_items(
        flags(
            (M1, "RICE", "W1", 2, 10, True, True),
            (M1, "OIL", "W1", 50, 10, False, True),
            (M1, "OLD", "W1", 0, 5, True, False),
        ),
        batches((M1, "SOY", "W1", 7, 90, 45, 12, 96.0), (M1, "SOY", "W1", 8, None, -3, 4, 32.0)),
        scores((M1, "C1", "at_risk", 0.7), (M1, "C2", "sleeping", 0.9), (M1, "C3", "active", 0.1)),
    )
    assert set(zip(items["kind"], items["item_key"], strict=True)) == {
        ("low_stock", "W1/RICE"),
        ("near_expiry", "W1/7"),
        ("churn_risk", "C1"),
    }
    low = items[items["kind"] == "low_stock"].iloc[0]
    assert (low["quantity"], low["low_stock_threshold"]) == (2, 10)
    batch = items[items["kind"] == "near_expiry"].iloc[0]
    assert (batch["quantity"], batch["value_at_risk"], batch["lot_code"]) == (12, 96.0, "L7")


def test_a_first_digest_calls_every_flagged_item_new() -> None:
    current = flagged_items(
        flags((M1, "RICE", "W1", 2, 10, True, True)), NO_BATCHES, scores((M1, "C1", "at_risk", 0.7))
    )
    digest = mark_new(current, current.iloc[0:0])
    assert new_keys(digest) == {(M1, "low_stock", "W1/RICE"), (M1, "churn_risk", "C1")}


def test_items_flagged_in_the_previous_digest_are_not_new_and_newly_flagged_ones_are() -> None:
    previous = flagged_items(
        flags((M1, "RICE", "W1", 2, 10, True, True)), NO_BATCHES, scores((M1, "C1", "at_risk", 0.7))
    )
    current = flagged_items(
        flags((M1, "RICE", "W1", 1, 10, True, True), (M1, "RICE", "W2", 3, 10, True, True)),
        NO_BATCHES,
        scores((M1, "C1", "at_risk", 0.8), (M1, "C2", "at_risk", 0.6)),
    )
    digest = mark_new(current, previous)
    assert len(digest) == 4
    assert new_keys(digest) == {(M1, "low_stock", "W2/RICE"), (M1, "churn_risk", "C2")}


def test_a_batch_moving_to_a_nearer_expiry_level_is_new_again_but_not_one_staying_at_its_level() -> None:
    previous = flagged_items(
        NO_FLAGS, batches((M1, "SOY", "W1", 7, 180, 95, 12, 96.0), (M1, "SOY", "W1", 8, 90, 60, 4, 32.0)), NO_SCORES
    )
    current = flagged_items(
        NO_FLAGS, batches((M1, "SOY", "W1", 7, 90, 89, 12, 96.0), (M1, "SOY", "W1", 8, 90, 59, 4, 32.0)), NO_SCORES
    )
    assert new_keys(mark_new(current, previous)) == {(M1, "near_expiry", "W1/7")}


def test_nothing_new_when_the_same_items_are_flagged_again() -> None:
    current = flagged_items(
        flags((M1, "RICE", "W1", 2, 10, True, True)),
        batches((M1, "SOY", "W1", 7, 30, 20, 12, 96.0)),
        scores((M1, "C1", "at_risk", 0.7)),
    )
    digest = mark_new(current, current)
    assert len(digest) == 3 and not digest["is_new"].any()


def test_an_item_flagged_again_after_a_digest_without_it_is_new() -> None:
    flagged = flagged_items(flags((M1, "RICE", "W1", 2, 10, True, True)), NO_BATCHES, NO_SCORES)
    quiet_day = flagged.iloc[0:0]
    assert new_keys(mark_new(flagged, quiet_day)) == {(M1, "low_stock", "W1/RICE")}


def test_one_merchants_previous_digest_does_not_hide_another_merchants_items() -> None:
    previous = flagged_items(flags((M1, "RICE", "W1", 2, 10, True, True)), NO_BATCHES, NO_SCORES)
    current = flagged_items(
        flags((M1, "RICE", "W1", 2, 10, True, True), (M2, "RICE", "W1", 2, 10, True, True)), NO_BATCHES, NO_SCORES
    )
    assert new_keys(mark_new(current, previous)) == {(M2, "low_stock", "W1/RICE")}


def test_the_summary_counts_flagged_and_new_items_and_zero_for_a_merchant_with_none() -> None:
    current = flagged_items(
        flags((M1, "RICE", "W1", 2, 10, True, True), (M1, "RICE", "W2", 2, 10, True, True)), NO_BATCHES, NO_SCORES
    )
    digest = mark_new(current, current.iloc[:1])
    merchants = pd.DataFrame(
        {
            "merchant_id": [M1, M2],
            "merchant_code": ["M1", "M2"],
            "as_of": [date(2026, 11, 2)] * 2,
            "previous_as_of": [date(2026, 11, 1), None],
        }
    )
    summary = summarize(merchants, digest).set_index("merchant_id")
    assert summary.loc[M1, ["flagged_items", "new_items"]].tolist() == [2, 1]
    assert summary.loc[M2, ["flagged_items", "new_items"]].tolist() == [0, 0]
