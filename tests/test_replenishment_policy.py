"""The replenishment policy's arithmetic on hand-computed cases (models/replenishment/policy.py).

Unless a test says otherwise a row is an A item with lead time 3 days and review period 7 days
(P = 10), a forecast of 30 units over the lead time and 100 over P (d = 100 / 10 = 10 a day), no
forecast error (so no safety stock), nothing on hand, on order or reserved, MOQ 1 and multiple 1:
reorder point 30, order-up-to level 100. Where a test has a forecast error, the days' errors are
correlated by ρ = 0.06 (FORECAST_ERROR_DAY_CORRELATION): over P days their variance is
P · σe² · (1 + 0.06 · (P − 1)), for P = 4 that is 4 · 1.18 · σe² = 4.72 · σe².
"""

from __future__ import annotations

import pandas as pd
import pytest

from models.replenishment.policy import (
    FORECAST_ERROR_DAY_CORRELATION,
    OUTPUT_COLUMNS,
    REASONS,
    SERVICE_LEVELS,
    review_period_days,
    service_levels_by_class,
    suggest_replenishment,
)

# Φ⁻¹ of the default service levels, from a normal table.
Z_99 = 2.326348
Z_95 = 1.644854
Z_90 = 1.281552
# √(4 · 1.18) = √4.72: σe = 1 over P = 4 correlated days.
SQRT_4_72 = 2.172556


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "merchant_id": 1,
        "sku_code": "SKU",
        "warehouse_code": "WH01",
        "abc_class": "A",
        "lead_time_days": 3,
        "review_period_days": 7,
        "forecast_lead_time_demand": 30.0,
        "forecast_protection_demand": 100.0,
        "daily_forecast_error_sd": 0.0,
        "on_hand": 0,
        "on_order": 0,
        "reserved": 0,
        "min_order_qty": 1,
        "order_multiple": 1,
    }
    row.update(overrides)
    return row


def _suggest(*rows: dict[str, object], **options: object) -> pd.DataFrame:
    # An index that is neither 0..n nor sorted, so results that lose their row would show.
    index = [10 * (len(rows) - position) for position in range(len(rows))]
    return suggest_replenishment(pd.DataFrame(list(rows), index=index), **options).reset_index(drop=True)


def test_default_service_levels_and_their_z() -> None:
    assert dict(SERVICE_LEVELS) == {"A": 0.99, "B": 0.95, "C": 0.90}
    assert FORECAST_ERROR_DAY_CORRELATION == 0.06
    # σe = 1 a day over P = 4 days (L 2 + R 2), demand 0: SS = z · √(4 · 1² · 1.18) = 2.172556 z.
    out = _suggest(
        *(
            _row(abc_class=abc, lead_time_days=2, review_period_days=2, daily_forecast_error_sd=1.0)
            for abc in ("A", "B", "C")
        )
    )
    assert out["service_level"].tolist() == [0.99, 0.95, 0.90]
    assert out["safety_stock"].astype(float).tolist() == pytest.approx(
        [SQRT_4_72 * Z_99, SQRT_4_72 * Z_95, SQRT_4_72 * Z_90], abs=1e-5
    )


def test_service_level_overrides_xyz_and_unclassified() -> None:
    levels = service_levels_by_class(
        pd.Series(["A", "C", "C", None, "B"], index=[5, 4, 3, 2, 1]),
        pd.Series(["X", "Z", "X", "Z", None], index=[5, 4, 3, 2, 1]),
        {"A": 0.975, "CZ": 0.80},
    )
    # A overridden to 0.975; CZ has its own level; CX falls back to C; no ABC class is C (and
    # then C + Z = CZ); B without XYZ is B.
    assert levels.tolist() == [0.975, 0.80, 0.90, 0.80, 0.95]
    assert levels.index.tolist() == [5, 4, 3, 2, 1]
    # The override reaches the safety stock: σe 1, P 4 → SS = √4.72 · Φ⁻¹(0.975) = 2.172556 · 1.959964.
    out = _suggest(
        _row(lead_time_days=2, review_period_days=2, daily_forecast_error_sd=1.0), service_levels={"A": 0.975}
    )
    assert out.loc[0, "safety_stock"] == pytest.approx(4.258132, abs=1e-5)
    with pytest.raises(ValueError, match="ABC class"):
        service_levels_by_class(pd.Series(["D"]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        service_levels_by_class(pd.Series(["A"]), service_levels={"A": 1.0})


def test_safety_stock_with_and_without_lead_time_variability() -> None:
    # L 2, R 2 → P 4; forecast 7 over L, 16 over P → d = 16 / 4 = 4 a day; σe 3 a day.
    common = {
        "lead_time_days": 2,
        "review_period_days": 2,
        "forecast_lead_time_demand": 7.0,
        "forecast_protection_demand": 16.0,
        "daily_forecast_error_sd": 3.0,
    }
    out = _suggest(_row(**common), _row(**common, lead_time_sd_days=2.0))
    # Certain lead time: SS = z · √(4 · 3² · 1.18) = z · √42.48 = 2.326348 · 6.517668 = 15.162365.
    # σL 2 days: SS = z · √(42.48 + 4² · 2²) = z · √106.48 = 2.326348 · 10.318915 = 24.005387.
    safety = [15.162365, 24.005387]
    assert out["safety_stock"].astype(float).tolist() == pytest.approx(safety, abs=1e-5)
    # ROP = S = 16 + SS: both cover L + R.
    assert out["reorder_point"].astype(float).tolist() == pytest.approx([16 + ss for ss in safety], abs=1e-5)
    assert out["order_up_to"].astype(float).tolist() == pytest.approx([16 + ss for ss in safety], abs=1e-5)
    # Position 0 ≤ ROP: need = S → 31.162 and 40.005, rounded up to whole units 32 and 41;
    # 32 / 4 = 8 and 41 / 4 = 10.25 days of cover.
    assert out["raw_need"].astype(float).tolist() == pytest.approx([16 + ss for ss in safety], abs=1e-5)
    assert out["suggested_qty"].tolist() == [32, 41]
    assert out["days_of_cover"].astype(float).tolist() == pytest.approx([8.0, 10.25])
    assert out["reason"].tolist() == ["below_reorder_point", "below_reorder_point"]


def test_pack_rounding_and_minimum_order_quantity() -> None:
    # Position 10 ≤ ROP 100 → raw need = S 100 − 10 = 90.
    out = _suggest(
        _row(on_hand=10, order_multiple=12),  # ⌈90 / 12⌉ = 8 packs → 96
        _row(on_hand=10, order_multiple=10),  # 90 is 9 packs exactly → 90, not 100
        _row(on_hand=10, min_order_qty=120),  # MOQ 120 > 90 → 120
        _row(on_hand=10, min_order_qty=100, order_multiple=12),  # MOQ 100 → ⌈100 / 12⌉ = 9 packs → 108
        _row(on_hand=10, min_order_qty=50, order_multiple=12),  # MOQ 50 below the need: 96 as above
    )
    assert out["raw_need"].astype(float).tolist() == pytest.approx([90.0] * 5)
    assert out["rounded_qty"].tolist() == [96, 90, 120, 108, 96]
    assert out["suggested_qty"].tolist() == [96, 90, 120, 108, 96]
    # Days of cover = (10 + order) / 10.
    assert out["days_of_cover"].astype(float).tolist() == pytest.approx([10.6, 10.0, 13.0, 11.8, 10.6])


def test_float_noise_does_not_buy_or_drop_a_pack() -> None:
    # 0.7 summed ten times is 7.000000000000001: still exactly one pack of 7, not two.
    ceil_case = _row(
        lead_time_days=1,
        review_period_days=0,
        forecast_lead_time_demand=sum([0.7] * 10),
        forecast_protection_demand=sum([0.7] * 10),
        order_multiple=7,
    )
    # 0.1 summed 120 times is 11.99999999999997 over P = 1 day; a shelf life of 3 days leaves
    # 3 − 3/3 = 2 selling days → cap 23.99999999999994 = four packs of 6, not three.
    floor_case = _row(
        lead_time_days=1,
        review_period_days=0,
        forecast_lead_time_demand=sum([0.1] * 120),
        forecast_protection_demand=sum([0.1] * 120),
        order_multiple=6,
        shelf_life_days=3,
    )
    out = _suggest(ceil_case, floor_case)
    assert out["suggested_qty"].tolist() == [7, 12]
    assert out["shelf_life_cap"].tolist()[1] == 24
    assert out["cap_applied"].tolist() == [False, False]


def test_a_position_above_the_reorder_point_orders_nothing() -> None:
    out = _suggest(
        _row(on_hand=101),  # 101 > ROP 100 (the forecast over L + R, no error) → nothing
        _row(on_hand=100),  # 100 = ROP = S: at the reorder point, but nothing to bring up
        _row(on_hand=40, on_order=60, reserved=1),  # position 99 ≤ ROP: order up to S → 1
        _row(on_hand=31),  # covers the lead time's 30 but not the review period after it → 69
    )
    assert out["reorder_point"].astype(float).tolist() == [100.0] * 4
    assert out["raw_need"].astype(float).tolist() == [0.0, 0.0, 1.0, 69.0]
    assert out["suggested_qty"].tolist() == [0, 0, 1, 69]
    assert out["reason"].tolist() == ["covered", "covered", "below_reorder_point", "below_reorder_point"]
    assert out["reason_zh"].tolist() == [REASONS["covered"]] * 2 + [REASONS["below_reorder_point"]] * 2
    # Days of cover: 101 / 10, then 100 / 10 for the rest.
    assert out["days_of_cover"].astype(float).tolist() == pytest.approx([10.1, 10.0, 10.0, 10.0])


def test_reserved_units_reduce_the_position() -> None:
    out = _suggest(
        _row(on_hand=100, on_order=5, reserved=15),  # 100 + 5 − 15 = 90 ≤ ROP 100 → 100 − 90 = 10
        _row(on_hand=100, on_order=5, reserved=0),  # 105 > ROP 100 → covered
    )
    assert out["position"].tolist() == [90, 105]
    assert out["suggested_qty"].tolist() == [10, 0]
    assert out[["on_hand", "on_order", "reserved"]].to_numpy().tolist() == [[100, 5, 15], [100, 5, 0]]


def test_shelf_life_cap() -> None:
    # Position 10, raw need 90 → 96 in packs of 12. d = 10 a day, L = 3.
    out = _suggest(
        # Shelf life 15 (fresh): margin a third, 5 → 10 selling days → 100 − 10 = 90
        # → ⌊90 / 12⌋ = 7 packs = 84 < 96.
        _row(on_hand=10, order_multiple=12, shelf_life_days=15),
        # Same 90 sellable, but MOQ 200 → 17 packs = 204: 90 is less than half of it → order 0.
        _row(on_hand=10, order_multiple=12, min_order_qty=200, shelf_life_days=15),
        # MOQ 100 → 9 packs = 108: 90 sellable is at least half of it → the cap is the MOQ, 108.
        _row(on_hand=10, order_multiple=12, min_order_qty=100, shelf_life_days=15),
        # No shelf life: not capped → 96.
        _row(on_hand=10, order_multiple=12, shelf_life_days=None),
        # Shelf life 365: margin 30 → 335 days → 3350 − 10 = 3340 → ⌊3340 / 12⌋ = 278 packs = 3336.
        _row(on_hand=10, order_multiple=12, shelf_life_days=365),
        # Shelf life 1: 1 − 1/3 days sell 6.7 units, fewer than the 10 on hand → cap 0.
        _row(on_hand=10, order_multiple=12, shelf_life_days=1),
    )
    assert out["rounded_qty"].tolist() == [96, 204, 108, 96, 96, 96]
    assert out["shelf_life_cap"].tolist()[:3] == [84, 84, 108]
    assert pd.isna(out.loc[3, "shelf_life_cap"])
    assert out["shelf_life_cap"].tolist()[4:] == [3336, 0]
    assert out["cap_applied"].tolist() == [True, True, False, False, False, True]
    assert out["suggested_qty"].tolist() == [84, 0, 108, 96, 96, 0]
    assert out["reason"].tolist() == [
        "capped_by_shelf_life",
        "cap_below_min_order",
        "below_reorder_point",
        "below_reorder_point",
        "below_reorder_point",
        "cap_below_min_order",
    ]
    # Days of cover: (10 + 84) / 10, 10 / 10, (10 + 108) / 10, (10 + 96) / 10 twice, 10 / 10.
    assert out["days_of_cover"].astype(float).tolist() == pytest.approx([9.4, 1.0, 11.8, 10.6, 10.6, 1.0])


def test_an_empty_shelf_gets_one_moq_the_cap_alone_would_refuse() -> None:
    # A 7-day vegetable, L = 2, R = 1 (P = 3), MOQ 5, no forecast error. With d = 0.5 a day the
    # reorder point and order-up-to level are 1.5; the margin is a third of 7 days, so 0.5 · 14/3 =
    # 2.33 units sell before it, less than half the MOQ (2.5): the cap is 2, below the MOQ.
    vegetable = {
        "lead_time_days": 2,
        "review_period_days": 1,
        "forecast_lead_time_demand": 1.0,
        "forecast_protection_demand": 1.5,
        "min_order_qty": 5,
        "shelf_life_days": 7,
    }
    out = _suggest(
        # Nothing on hand or on order: 0.5 · 7 = 3.5 of the 5 sell within the shelf life → 5.
        _row(**vegetable),
        # One unit on hand: position 1 ≤ 1.5, need 0.5 → 5, cap 2.33 − 1 → 1 < 5 → nothing.
        _row(**vegetable, on_hand=1),
        # One unit on order, nothing on hand: the same position 1 → nothing.
        _row(**vegetable, on_order=1),
        # d = 0.3: 0.3 · 7 = 2.1 < 2.5 would sell even in the whole shelf life → nothing.
        _row(**{**vegetable, "forecast_lead_time_demand": 0.6, "forecast_protection_demand": 0.9}),
        # d = 0.6 in packs of 4: the MOQ is 2 packs = 8; 0.6 · 14/3 = 2.8 → cap 0 packs; 0.6 · 7 =
        # 4.2 ≥ 4, half of 8 → 8.
        _row(**{**vegetable, "forecast_lead_time_demand": 1.2, "forecast_protection_demand": 1.8, "order_multiple": 4}),
    )
    assert out["shelf_life_cap"].tolist() == [2, 1, 1, 1, 0]
    assert out["suggested_qty"].tolist() == [5, 0, 0, 0, 8]
    assert out["reason"].tolist() == [
        "restock_empty_shelf",
        "cap_below_min_order",
        "cap_below_min_order",
        "cap_below_min_order",
        "restock_empty_shelf",
    ]
    assert out.loc[0, "reason_zh"] == REASONS["restock_empty_shelf"]
    # (0 + 5) / 0.5 and (0 + 8) / 0.6 days of cover.
    assert out.loc[[0, 4], "days_of_cover"].astype(float).tolist() == pytest.approx([10.0, 13.333333])


def test_perishables_are_reviewed_more_often() -> None:
    shelf_life = pd.Series([7, 15, 30, 56, 89, 90, 365, None, 3], dtype="Int64")
    # 7 // 7 = 1, 15 // 7 = 2, 30 // 7 = 4, 56 // 7 = 8 → the usual 7, 89 // 7 = 12 → 7; from 90
    # days on (and without a shelf life) the usual period; 3 // 7 = 0 → at least daily.
    assert review_period_days(shelf_life, 7).tolist() == [1, 2, 4, 7, 7, 7, 7, 7, 1]
    assert review_period_days(shelf_life, 3).tolist() == [1, 2, 3, 3, 3, 3, 3, 3, 1]
    with pytest.raises(ValueError, match="at least 1 day"):
        review_period_days(shelf_life, 0)


def test_prebuild_raises_the_order_up_to_level_and_is_capped() -> None:
    out = _suggest(
        # S = 100 + 50 = 150; position 10 → 140 → ⌈140 / 12⌉ = 12 packs = 144.
        _row(on_hand=10, order_multiple=12, prebuild_qty=50),
        # The same pre-build under the 84-unit shelf-life cap of test_shelf_life_cap.
        _row(on_hand=10, order_multiple=12, prebuild_qty=50, shelf_life_days=15),
        # The pre-build raises S, not the reorder point (100): position 101 still orders nothing.
        _row(on_hand=101, prebuild_qty=50),
    )
    assert out["order_up_to"].astype(float).tolist() == [150.0, 150.0, 150.0]
    assert out["reorder_point"].astype(float).tolist() == [100.0, 100.0, 100.0]
    assert out["raw_need"].astype(float).tolist() == [140.0, 140.0, 0.0]
    assert out["suggested_qty"].tolist() == [144, 84, 0]
    assert out["cap_applied"].tolist() == [False, True, False]
    # (10 + 144) / 10 days of cover.
    assert out.loc[0, "days_of_cover"] == pytest.approx(15.4)


def test_zero_demand() -> None:
    out = _suggest(
        # Forecast 0 and no error: SS 0, ROP 0 = S 0 = position → nothing to order.
        _row(forecast_lead_time_demand=0.0, forecast_protection_demand=0.0),
        # Forecast 0 but σe 1 over P = 10: SS = 2.326348 · √(10 · (1 + 0.06 · 9)) = 2.326348 · √15.4
        # = 9.129249 = ROP = S → 10 units.
        _row(forecast_lead_time_demand=0.0, forecast_protection_demand=0.0, daily_forecast_error_sd=1.0),
        # The same perishable good: nothing sells before expiry, cap 0 < MOQ → 0.
        _row(
            forecast_lead_time_demand=0.0,
            forecast_protection_demand=0.0,
            daily_forecast_error_sd=1.0,
            shelf_life_days=90,
        ),
    )
    assert out["safety_stock"].astype(float).tolist() == pytest.approx([0.0, 9.129249, 9.129249], abs=1e-5)
    assert out["suggested_qty"].tolist() == [0, 10, 0]
    assert out["reason"].tolist() == ["covered", "below_reorder_point", "cap_below_min_order"]
    # No demand, no days of cover (not infinity).
    assert out["days_of_cover"].isna().tolist() == [True, True, True]


def test_no_forecast_orders_nothing_and_says_so() -> None:
    out = _suggest(
        _row(forecast_lead_time_demand=None, forecast_protection_demand=None, daily_forecast_error_sd=None),
        _row(),
    )
    assert out["suggested_qty"].tolist() == [0, 100]
    assert out["reason"].tolist() == ["no_forecast", "below_reorder_point"]
    assert out["reason_zh"].tolist() == [REASONS["no_forecast"], REASONS["below_reorder_point"]]
    for column in ("safety_stock", "reorder_point", "order_up_to", "raw_need", "rounded_qty", "days_of_cover"):
        assert pd.isna(out.loc[0, column]), column
    assert out.loc[0, "position"] == 0


def test_output_keeps_the_input_and_every_explanation_column() -> None:
    out = _suggest(_row(merchant_id=7, sku_code="化肥-50KG", warehouse_code="WH02"))
    assert out.loc[0, ["merchant_id", "sku_code", "warehouse_code"]].tolist() == [7, "化肥-50KG", "WH02"]
    for column in (*OUTPUT_COLUMNS, "forecast_protection_demand", "on_hand", "on_order", "reserved"):
        assert column in out, column
    # Optional inputs that were absent appear with the value their absence means.
    assert out.loc[0, "prebuild_qty"] == 0
    assert out.loc[0, "lead_time_sd_days"] == 0.0
    assert pd.isna(out.loc[0, "shelf_life_days"])
    assert out["suggested_qty"].dtype == "int64"
    assert out["cap_applied"].dtype == bool
    assert set(out["reason"]) <= set(REASONS)


def test_inputs_that_cannot_be_planned_are_refused() -> None:
    with pytest.raises(KeyError, match="reserved"):
        suggest_replenishment(pd.DataFrame([_row()]).drop(columns="reserved"))
    with pytest.raises(ValueError, match="daily_forecast_error_sd"):
        _suggest(_row(daily_forecast_error_sd=None))
    with pytest.raises(ValueError, match="at least 1 day"):
        _suggest(_row(lead_time_days=0, review_period_days=0))
