"""The replay behind `coopcast evaluate replenishment` (models/replenishment/evaluation.py).

Unless a test says otherwise a SKU is an A item costing ¥5, lead time 1 day without spread,
reviewed daily, MOQ 1, multiple 1, no shelf life, and the replay starts on 2026-03-01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.replenishment.evaluation import (
    SUMMARY_COLUMNS,
    draw_lead_times,
    evaluate_replenishment,
    frame_forecaster,
    prepare_replay,
    replay_policy,
    summarise,
)

START = pd.Timestamp("2026-03-01")


def _sku(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "sku": "S1",
        "abc_class": "A",
        "unit_cost": 5.0,
        "lead_time_days": 1,
        "lead_time_sd_days": 0.0,
        "min_order_qty": 1,
        "order_multiple": 1,
        "shelf_life_days": np.nan,
        "review_period_days": 1,
        "initial_on_hand": 0.0,
    }
    row.update(overrides)
    return row


def _demand(sku: str, daily: list[float], history_days: int = 0, history_daily: float = 0.0) -> pd.DataFrame:
    history = [history_daily] * history_days
    values = history + daily
    dates = pd.date_range(START - pd.Timedelta(days=history_days), periods=len(values), freq="D")
    return pd.DataFrame({"sku": sku, "date": dates, "demand": values})


def _replay(policy, skus, demand, forecaster=None, initial_batches=None, seed=0):
    inputs = prepare_replay(pd.DataFrame(skus), demand, START, initial_batches)
    lead_times = draw_lead_times(inputs.skus, inputs.n_days, seed)
    totals, orders = replay_policy(policy, inputs, lead_times, forecaster)
    return summarise(totals, inputs.n_days), totals, orders


def _row(summary: pd.DataFrame, policy: str, abc_class: str) -> pd.Series:
    return summary[(summary["policy"] == policy) & (summary["abc_class"] == abc_class)].iloc[0]


def _perfect_forecaster(demand: np.ndarray):
    """Knows the replay's true demand (SKU × day); past the end it repeats the last day."""

    def forecast(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        ahead = demand[:, day + 1 : day + 1 + horizon]
        padding = np.repeat(demand[:, -1:], horizon - ahead.shape[1], axis=1)
        return np.concatenate([ahead, padding], axis=1), np.zeros(demand.shape[0])

    return forecast


def test_constant_demand_without_variability_is_always_served_with_two_units_left_each_night():
    # The perfect forecast of 2/day: reorder point 2 (L 1), order-up-to 4 (L + R), no safety stock.
    # Start with 4: sell 2, position 2 ≤ 2 → order 2, arriving next morning: 4 again. End of day
    # always 2 units = ¥10.
    skus = [_sku(initial_on_hand=4.0)]
    demand = _demand("S1", [2.0] * 10, history_days=28, history_daily=2.0)
    summary, _, orders = _replay("coopcast", skus, demand, _perfect_forecaster(np.full((1, 10), 2.0)))
    for abc_class in ("A", "ALL"):
        row = _row(summary, "coopcast", abc_class)
        assert row["fill_rate"] == 1.0
        assert row["avg_inventory_value"] == pytest.approx(10.0)
        assert row["expired_value"] == 0.0
        assert row["stockout_days"] == 0
        assert row["orders_placed"] == 10
        # COGS 20 units × ¥5 = ¥100 over an average of ¥10.
        assert row["turnover"] == pytest.approx(10.0)
    assert orders["quantity"].tolist() == [2.0] * 10
    assert (orders["arrival_day"] - orders["order_day"]).tolist() == [1] * 10


def test_minmax_is_the_simulated_merchants_rule_with_safety_days_and_a_month_of_cover():
    # Demand 2/day: m = 2, min = 2 · (L 1 + 2 safety days) = 6, max = 6 + 2 · 30 days of cover = 66
    # for goods that do not expire. Start with 4: sell 2, position 2 < 6 → order 64, arriving the
    # next morning; then the position falls from 64 to 48 and never goes below 6 again.
    # End-of-day units 2, 64, 62, …, 48: 506 / 10 = 50.6 units = ¥253.
    skus = [_sku(initial_on_hand=4.0)]
    demand = _demand("S1", [2.0] * 10, history_days=28, history_daily=2.0)
    summary, _, orders = _replay("minmax", skus, demand)
    row = _row(summary, "minmax", "ALL")
    assert row["fill_rate"] == 1.0
    assert row["avg_inventory_value"] == pytest.approx(253.0)
    assert orders["quantity"].tolist() == [64.0]
    assert orders["arrival_day"].tolist() == [1]


def test_warmup_days_are_replayed_but_not_counted():
    # The case above with 2 days of warm-up: the order of day 0 shapes the stock, and days 2–9 are
    # measured: end-of-day units 62, 60, …, 48 → 440 / 8 = 55 units = ¥275; 16 units demanded and
    # served; no order placed in the measured days.
    skus = [_sku(initial_on_hand=4.0)]
    demand = _demand("S1", [2.0] * 10, history_days=28, history_daily=2.0)
    inputs = prepare_replay(pd.DataFrame(skus), demand, START)
    totals, orders = replay_policy("minmax", inputs, draw_lead_times(inputs.skus, 10, 0), warmup_days=2)
    summary = summarise(totals, inputs.n_days - 2)
    row = _row(summary, "minmax", "ALL")
    assert row["avg_inventory_value"] == pytest.approx(275.0)
    assert totals["demanded"].iloc[0] == totals["served"].iloc[0] == 16.0
    assert row["orders_placed"] == 0
    assert orders["order_day"].tolist() == [0]
    with pytest.raises(ValueError, match="warmup_days must be from 0 to 9"):
        replay_policy("minmax", inputs, draw_lead_times(inputs.skus, 10, 0), warmup_days=10)


@pytest.mark.parametrize(
    ("shelf_life", "expected_order"),
    [
        # m = max(28-day mean 1.75, 7-day mean 4) = 4; min = 4 · (L 2 + 2) = 16; max = 16 + 4 · 30 = 136.
        (np.nan, 136.0),
        # Keeps 200 days: the same m and min, a cover of 14 days: 16 + 56 = 72.
        (200.0, 72.0),
        # Fresh produce (≤ 30 days) keeps the 28-day mean: m = 1.75, min = 7, max = 7 + 1.75 · 2 =
        # 10.5, rounded up to 11.
        (7.0, 11.0),
    ],
)
def test_minmax_follows_a_ramp_within_a_week_except_for_fresh_produce(shelf_life: float, expected_order: float):
    # History: 21 days of 1, then 6 days of 4; day 0 sells 4 more. Seen on day 0: 28 days summing
    # to 49 (mean 1.75), the last 7 all 4. The 4 units on hand sell out on day 0: position 0.
    values = [1.0] * 21 + [4.0] * 7
    demand = pd.DataFrame(
        {"sku": "S1", "date": pd.date_range(START - pd.Timedelta(days=27), periods=28, freq="D"), "demand": values}
    )
    skus = [_sku(lead_time_days=2, shelf_life_days=shelf_life, initial_on_hand=4.0)]
    _, _, orders = _replay("minmax", skus, demand)
    assert orders["quantity"].tolist() == [expected_order]


def test_coopcast_builds_ahead_of_a_forecast_peak_as_the_weekly_plan_does():
    # Perfect forecast: 2 a day for the 2-day cover (L 1 + R 1), then 5 a day. The fortnight after
    # the cover averages 5 ≥ 1.5 × 2, so the first order adds its rise, 14 × 3 = 42 units, to the
    # cover of 4: 46. A good keeping 60 days builds nothing ahead.
    daily = [2.0, 2.0, 2.0] + [5.0] * 20
    replay_demand = np.array([daily])
    for shelf_life, first_order in ((np.nan, 46.0), (60.0, 4.0)):
        skus = [_sku(shelf_life_days=shelf_life)]
        _, _, orders = _replay("coopcast", skus, _demand("S1", daily), _perfect_forecaster(replay_demand))
        assert orders["quantity"].iloc[0] == first_order, shelf_life


def test_stock_expiring_before_it_sells_is_written_off_first_expiry_first_out():
    # Two batches: 3 units expiring on day 2, 5 units after the period. Demand 1/day takes the
    # older batch first (days 0 and 1), so 1 unit expires on day 2: ¥5. Fresh produce (30 days):
    # min = 1 · (L 1 + 2) = 3, max = 3 + 1 · 2 = 5; the position (7, 6, 4, 3, 2) first falls below
    # 3 on day 4, whose order of 3 arrives after the period.
    # End-of-day units: 7, 6, 4 (1 expired, 1 sold), 3, 2 → mean 4.4 units = ¥22.
    skus = [_sku(shelf_life_days=30.0)]
    batches = pd.DataFrame(
        {
            "sku": ["S1", "S1"],
            "quantity": [3.0, 5.0],
            "expiry_date": [START + pd.Timedelta(days=2), START + pd.Timedelta(days=20)],
        }
    )
    demand = _demand("S1", [1.0] * 5, history_days=28, history_daily=1.0)
    summary, _, orders = _replay("minmax", skus, demand, initial_batches=batches)
    row = _row(summary, "minmax", "ALL")
    assert row["expired_value"] == pytest.approx(5.0)
    assert row["avg_inventory_value"] == pytest.approx(22.0)
    assert row["fill_rate"] == 1.0
    assert orders[["order_day", "arrival_day", "quantity"]].values.tolist() == [[4, 5, 3.0]]


def test_a_single_aged_batch_expires_after_shelf_life_minus_age():
    # 10 units, shelf life 20, age 15 → expire on the morning of day 5; no demand, no orders.
    # End-of-day units 10 for days 0–4, then 0 for days 5–9: mean 5 units = ¥25; expired ¥50.
    skus = [_sku(shelf_life_days=20.0, initial_on_hand=10.0, initial_age_days=15)]
    demand = _demand("S1", [0.0] * 10, history_days=28)
    summary, _, _ = _replay("minmax", skus, demand)
    row = _row(summary, "minmax", "ALL")
    assert row["expired_value"] == pytest.approx(50.0)
    assert row["avg_inventory_value"] == pytest.approx(25.0)
    assert row["fill_rate"] == 1.0
    assert row["orders_placed"] == 0


def test_demand_without_stock_is_lost():
    # No stock, one day of history selling 3, demand 3/day, lead time 2. Day 0: 3 lost, nothing
    # sold; the mean of the two days seen is 1.5 → min 1.5 · (2 + 2) = 6, max 6 + 1.5 · 30 = 51:
    # order 51, arriving day 2. Day 1: 3 lost, position 51. From day 2 on every day is served from
    # it. Served 9 of 15: fill rate 0.6, 2 stock-out days.
    skus = [_sku(lead_time_days=2)]
    demand = _demand("S1", [3.0] * 5, history_days=1, history_daily=3.0)
    summary, totals, orders = _replay("minmax", skus, demand)
    row = _row(summary, "minmax", "ALL")
    assert row["fill_rate"] == pytest.approx(0.6)
    assert row["stockout_days"] == 2
    assert totals["lost"].iloc[0] == 6.0
    assert orders["quantity"].tolist() == [51.0]

    # A forecast of nothing never orders: everything is lost, every day is a stock-out day.
    def nothing(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((seen.shape[0], horizon)), np.zeros(seen.shape[0])

    summary, _, orders = _replay("coopcast", skus, demand, nothing)
    row = _row(summary, "coopcast", "ALL")
    assert row["fill_rate"] == 0.0
    assert row["stockout_days"] == 5
    assert orders.empty


def test_both_policies_decide_from_what_was_sold_and_coopcast_marks_the_days_it_could_not_sell():
    # History: demand 4/day of which the ledger sold 3, and on its last day, out of stock, none.
    # Replay: demand 5/day, no stock, lead time 2: the first two days sell nothing. Coopcast sees
    # 3, 3, unknown, then unknown, unknown (NaN: it had nothing to sell), then its sales.
    skus = [_sku(lead_time_days=2)]
    demand = _demand("S1", [5.0] * 4, history_days=3, history_daily=4.0)
    demand["sold"] = np.where(demand["date"] < START, [3.0, 3.0, 0.0, 0, 0, 0, 0], np.nan)
    stock_outs = pd.DataFrame({"sku": ["S1"], "date": [START - pd.Timedelta(days=1)]})
    calls: list[np.ndarray] = []

    def remembers(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(seen.copy())
        return np.full((seen.shape[0], horizon), 5.0), np.zeros(seen.shape[0])

    inputs = prepare_replay(pd.DataFrame(skus), demand, START, stock_outs=stock_outs)
    lead_times = draw_lead_times(inputs.skus, inputs.n_days, 0)
    totals, _ = replay_policy("coopcast", inputs, lead_times, remembers)
    nan = np.nan
    np.testing.assert_array_equal(calls[1], [[3.0, 3.0, nan, nan, nan]])
    # Served from day 2 (ordered 5 · (2 + 1) = 15 on day 0): days 2 and 3 sell 5 each.
    np.testing.assert_array_equal(calls[3], [[3.0, 3.0, nan, nan, nan, 5.0, 5.0]])
    assert totals["served"].iloc[0] == 10.0

    # The merchants' rule counts the days without stock as days without sales: on day 0
    # m = (3 + 3 + 0 + 0) / 4 = 1.5, min 1.5 · 4 = 6, max 6 + 1.5 · 30 = 51.
    _, orders = replay_policy("minmax", inputs, lead_times)
    assert orders["quantity"].iloc[0] == 51.0


def test_a_launched_skus_opening_stock_arrives_on_its_day_under_either_policy():
    # No stock, demand 3/day for 5 days; 10 units of opening stock arrive on day 2. A policy that
    # never orders serves days 2, 3 and 4 from them: 9 of 15, one unit left over.
    skus = [_sku(lead_time_days=2)]
    demand = _demand("S1", [3.0] * 5)
    launch = pd.DataFrame({"sku": ["S1"], "date": [START + pd.Timedelta(days=2)], "quantity": [10.0]})

    def nothing(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((seen.shape[0], horizon)), np.zeros(seen.shape[0])

    inputs = prepare_replay(pd.DataFrame(skus), demand, START, launch_stock=launch)
    totals, orders = replay_policy("coopcast", inputs, draw_lead_times(inputs.skus, inputs.n_days, 0), nothing)
    assert orders.empty
    assert totals["served"].iloc[0] == 9.0
    assert totals["stockout_days"].iloc[0] == 2


def test_frame_forecaster_reads_precomputed_forecasts():
    # The same case as the first test, with the perfect forecast given as a frame.
    skus = [_sku(initial_on_hand=4.0)]
    demand = _demand("S1", [2.0] * 10, history_days=28, history_daily=2.0)
    inputs = prepare_replay(pd.DataFrame(skus), demand, START)
    decision_dates = pd.date_range(START, periods=10, freq="D")
    forecasts = pd.DataFrame(
        [
            {"sku": "S1", "decision_date": decided, "ds": decided + pd.Timedelta(days=ahead), "yhat": 2.0}
            for decided in decision_dates
            for ahead in (1, 2)
        ]
    ).assign(error_sd=0.0)
    totals, orders = replay_policy(
        "coopcast", inputs, draw_lead_times(inputs.skus, 10, 0), frame_forecaster(forecasts, inputs)
    )
    assert totals["served"].iloc[0] == 20.0
    assert orders["quantity"].tolist() == [2.0] * 10


def _synthetic_case(n_skus: int, n_days: int, history_days: int, seed: int, review_period_days: int = 7):
    """Stationary Poisson demand with a class-dependent rate; A items are the fast movers. Lead
    time 2–6 days with a 1-day spread, packs of 1–6, a third with 60–200 days' shelf life, 10 days
    of demand on hand at the start.
    """
    rng = np.random.default_rng(seed)
    abc = rng.choice(["A", "B", "C"], size=n_skus, p=[0.2, 0.3, 0.5])
    rate = np.select([abc == "A", abc == "B"], [rng.uniform(8, 20, n_skus), rng.uniform(2, 8, n_skus)])
    rate = np.where(abc == "C", rng.uniform(0.2, 2, n_skus), rate)
    skus = pd.DataFrame(
        {
            "sku": [f"S{i:04d}" for i in range(n_skus)],
            "abc_class": abc,
            "unit_cost": rng.uniform(2, 50, n_skus).round(2),
            "lead_time_days": rng.integers(2, 7, n_skus),
            "lead_time_sd_days": 1.0,
            "min_order_qty": 1,
            "order_multiple": rng.integers(1, 7, n_skus),
            "shelf_life_days": np.where(rng.random(n_skus) < 1 / 3, rng.integers(60, 201, n_skus), np.nan),
            "review_period_days": review_period_days,
            "initial_on_hand": np.round(rate * 10),
        }
    )
    total_days = history_days + n_days
    matrix = rng.poisson(rate[:, None], size=(n_skus, total_days)).astype(float)
    dates = pd.date_range(START - pd.Timedelta(days=history_days), periods=total_days, freq="D")
    demand = pd.DataFrame(
        {
            "sku": np.repeat(skus["sku"].to_numpy(), total_days),
            "date": np.tile(dates, n_skus),
            "demand": matrix.ravel(),
        }
    )

    def knows_the_rate(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        # A good forecast: the true mean rate, with the Poisson spread as its daily error.
        return np.repeat(rate[:, None], horizon, axis=1), np.sqrt(rate)

    return skus, demand, knows_the_rate


def test_same_seed_same_results_and_both_policies_see_the_same_lead_times():
    skus, demand, forecaster = _synthetic_case(n_skus=40, n_days=60, history_days=28, seed=7)
    first = evaluate_replenishment(skus, demand, START, forecaster, seed=3)
    again = evaluate_replenishment(skus, demand, START, forecaster, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == list(SUMMARY_COLUMNS)
    assert set(first["abc_class"]) == {"A", "B", "C", "ALL"}

    inputs = prepare_replay(skus, demand, START)
    lead_times = draw_lead_times(inputs.skus, inputs.n_days, seed=3)
    assert not np.array_equal(lead_times, draw_lead_times(inputs.skus, inputs.n_days, seed=4))
    sku_row = {sku: row for row, sku in enumerate(inputs.skus["sku"])}
    logs = [
        replay_policy("minmax", inputs, lead_times)[1],
        replay_policy("coopcast", inputs, lead_times, forecaster)[1],
    ]
    for orders in logs:
        drawn = lead_times[orders["sku"].map(sku_row).to_numpy(), orders["order_day"].to_numpy()]
        assert np.array_equal(orders["arrival_day"] - orders["order_day"], drawn)
    both = logs[0].merge(logs[1], on=["sku", "order_day"])
    assert len(both) > 0
    assert (both["arrival_day_x"] == both["arrival_day_y"]).all()


def test_with_weekly_review_coopcast_meets_every_goal_against_the_merchants_rule():
    """200 SKUs × 90 days, weekly review, demand seed 11, lead-time seed 0. Observed:

        A fill rate       minmax 0.961   coopcast 1.000   (goal ≥ 0.995)
        all fill rate     minmax 0.958   coopcast 0.9995  (goal ≥ 0.98, and ≥ minmax)
        stock-out days    minmax 763     coopcast 25      (all SKUs)
        avg inventory     minmax ¥408 893  coopcast ¥218 869  (ratio 0.535; goal ≤ 0.7)

    With a good forecast the safety stock is sized to the error instead of a fixed number of days,
    and an order covers one review period instead of a month.
    """
    skus, demand, forecaster = _synthetic_case(n_skus=200, n_days=90, history_days=28, seed=11)
    summary = evaluate_replenishment(skus, demand, START, forecaster, seed=0)
    minmax_all, coopcast_all = _row(summary, "minmax", "ALL"), _row(summary, "coopcast", "ALL")
    assert _row(summary, "coopcast", "A")["fill_rate"] >= 0.995
    assert coopcast_all["fill_rate"] >= max(0.98, minmax_all["fill_rate"])
    assert coopcast_all["stockout_days"] < minmax_all["stockout_days"]
    assert coopcast_all["avg_inventory_value"] <= 0.7 * minmax_all["avg_inventory_value"]
    assert coopcast_all["expired_value"] <= minmax_all["expired_value"]


def test_with_daily_review_coopcast_meets_the_a_item_target_with_a_quarter_of_the_stock():
    """The same 200 SKUs reviewed daily. Observed: A fill rate minmax 0.99968, coopcast 0.99998
    (goal 0.995); all SKUs 0.99904 against 0.99895; average inventory value ¥456 854 against
    ¥117 007 (ratio 0.256). Reviewed daily the merchants' safety days serve nearly everything
    too, at four times the stock.
    """
    skus, demand, forecaster = _synthetic_case(n_skus=200, n_days=90, history_days=28, seed=11, review_period_days=1)
    summary = evaluate_replenishment(skus, demand, START, forecaster, seed=0)
    assert _row(summary, "coopcast", "A")["fill_rate"] >= 0.995
    assert _row(summary, "coopcast", "ALL")["fill_rate"] >= 0.98
    assert _row(summary, "coopcast", "A")["fill_rate"] > _row(summary, "minmax", "A")["fill_rate"]
    ratio = (
        _row(summary, "coopcast", "ALL")["avg_inventory_value"] / _row(summary, "minmax", "ALL")["avg_inventory_value"]
    )
    assert ratio < 0.5


def test_500_skus_over_90_days_give_both_policies_per_class_and_overall():
    skus, demand, forecaster = _synthetic_case(n_skus=500, n_days=90, history_days=28, seed=5)
    summary = evaluate_replenishment(skus, demand, START, forecaster, seed=0)
    assert len(summary) == 8
