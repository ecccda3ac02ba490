"""Price trends: series built from step prices, category index chaining, change points, outlook and hints."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.pricing import PriceSettings, evaluate_change_points, evaluate_outlook, price_trends
from models.pricing.change_points import detect
from models.pricing.outlook import outlook
from models.pricing.series import chained_index, monthly_prices, sku_series
from models.pricing.signals import hint

SETTINGS = PriceSettings()


def _rows(sku: str, kind: str, prices: list[tuple[str, float]], category: str = "0101") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_id": 1,
            "merchant_code": "M1",
            "sku_code": sku,
            "category_code": category,
            "price_kind": kind,
            "valid_from": pd.to_datetime([day for day, _ in prices]),
            "unit_price": [price for _, price in prices],
        }
    )


def test_monthly_means_of_step_prices_weight_days_and_drop_mostly_unobserved_months() -> None:
    rows = _rows("A", "cost", [("2026-01-01", 10.0), ("2026-01-21", 20.0), ("2026-02-11", 30.0)])
    _, segments = sku_series(rows, dt.date(2026, 3, 10))
    monthly = monthly_prices(segments, min_coverage=0.5)
    assert list(monthly["month"].dt.date) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]  # 10 of 31 March days
    # January: 20 days at 10 and 11 at 20; February: 10 days at 20 and 18 at 30.
    assert monthly["price"].tolist() == pytest.approx([(20 * 10 + 11 * 20) / 31, (10 * 20 + 18 * 30) / 28])


def test_rows_after_as_of_are_ignored() -> None:
    rows = _rows("A", "cost", [("2026-01-01", 10.0), ("2026-02-01", 99.0)])
    _, segments = sku_series(rows, dt.date(2026, 1, 31))
    assert monthly_prices(segments, 0.5)["price"].tolist() == [10.0]


def test_a_network_without_prices_gets_empty_outputs_with_their_columns() -> None:
    products = pd.DataFrame(columns=["merchant_code", "sku_code", "shelf_life_days", "lead_time_days"])
    result = price_trends(_rows("S1", "cost", []).iloc[0:0], products, dt.date(2026, 6, 30))
    assert all(frame.empty for frame in result)
    assert {"hint", "reason_zh", "outlook_change"} <= set(result.signals.columns)
    assert {"outlook", "lower_95", "upper_95"} <= set(result.trends.columns)


def test_category_index_chains_log_relatives_and_ignores_skus_entering() -> None:
    rows = pd.concat(
        [
            _rows("A", "cost", [("2026-01-01", 10.0), ("2026-02-01", 11.0), ("2026-03-01", 12.1)]),
            _rows("B", "cost", [("2026-01-01", 20.0), ("2026-03-01", 18.0)]),
            _rows("C", "cost", [("2026-02-01", 100.0)]),  # listed in February: no link before March
        ]
    )
    keys, segments = sku_series(rows, dt.date(2026, 3, 31))
    index = chained_index(monthly_prices(segments, 0.5), keys, "month")
    february = np.exp(np.log(1.1) / 2)  # A +10%, B unchanged; C has no January price
    march = february * np.exp((np.log(1.1) + np.log(0.9) + 0.0) / 3)  # A +10%, B −10%, C unchanged
    assert index["index"].tolist() == pytest.approx([1.0, february, march])


def _weekly_level(step_at: int | None, noise: float, seed: int, n: int = 80, step: float = 0.12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.zeros(n)
    if step_at is not None:
        level[step_at:] += np.log1p(step)
    return level + rng.normal(0.0, noise, n)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_injected_step_is_found_within_a_week_with_its_size(seed: int) -> None:
    found = detect(_weekly_level(40, 0.01, seed), SETTINGS)
    assert len(found) == 1
    point, step = found[0]
    assert abs(point - 40) <= 1
    assert step == pytest.approx(0.12, abs=0.03)


@pytest.mark.parametrize("noise", [0.0, 0.005, 0.015])
def test_flat_or_gently_noisy_series_have_no_change_point(noise: float) -> None:
    assert detect(_weekly_level(None, noise, seed=7), SETTINGS) == []


def test_category_shock_is_found_through_the_pipeline_and_scored() -> None:
    """Five merchants' costs follow a category index that steps up 15% on 2025-06-10; weekly reviews with a 3%
    threshold pass it on."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2024-12-01", "2025-12-31", freq="D")
    index = np.exp(rng.normal(0, 0.003, len(days)).cumsum() * 0.2) * np.where(days >= "2025-06-10", 1.15, 1.0)
    frames = []
    for merchant in range(5):
        price, rows = 10.0 + merchant, []
        for day in range(merchant, len(days), 7):
            target = (10.0 + merchant) * index[day]
            if not rows or abs(target / price - 1) > 0.03:
                price = target
                rows.append((days[day].strftime("%Y-%m-%d"), price))
        frames.append(_rows(f"S{merchant}", "cost", rows).assign(merchant_code=f"M{merchant}", merchant_id=merchant))
    products = pd.DataFrame(
        {
            "merchant_code": [f"M{m}" for m in range(5)],
            "sku_code": [f"S{m}" for m in range(5)],
            "shelf_life_days": pd.array([None] * 5, dtype="Int64"),
            "lead_time_days": 14.0,
        }
    )
    result = price_trends(pd.concat(frames), products, dt.date(2025, 12, 31))
    category = result.change_points[result.change_points["level"] == "category"]
    injected = pd.DataFrame({"category_code": ["0101"], "starts_on": [dt.date(2025, 6, 10)], "magnitude": [0.15]})
    scores = evaluate_change_points(category, injected).set_index("metric")["value"]
    assert scores["change_point_recall"] == 1.0
    assert scores["change_point_precision"] == 1.0
    assert category["step"].iloc[0] == pytest.approx(0.15, abs=0.04)

    signals = result.signals.set_index("level")
    assert len(signals.loc["sku"]) == 5 and len(signals.loc[["category"]]) == 1
    assert signals["last_change_point"].notna().all()
    assert set(signals["hint"]) <= {"buy_ahead", "wait", "neutral"} and signals["storable"].all()
    ahead = result.trends[result.trends["is_outlook"]]
    assert len(ahead) == 6 * 3 and ahead["price"].isna().all()
    assert (ahead["lower_95"] > 0).all() and (ahead["lower_95"] <= ahead["outlook"]).all()
    history = result.trends[~result.trends["is_outlook"]]
    assert history["outlook"].isna().all() and history["trend"].notna().all()


def test_outlook_beats_no_change_on_a_mean_reverting_series() -> None:
    rng = np.random.default_rng(5)
    months = pd.date_range("2023-01-01", periods=36, freq="MS")
    frames = []
    for series in range(40):
        deviation, values = 0.0, []
        for _ in months:
            deviation = 0.5 * deviation + rng.normal(0, 0.05)
            values.append(20 * np.exp(deviation))
        frames.append(pd.DataFrame({"subject_id": series, "month": months, "price": values}))
    monthly = pd.concat(frames, ignore_index=True)
    pools = pd.Series("sku|0101|cost", index=range(40))
    result = outlook(monthly, pools, "subject_id", horizon=3, origins=8, min_months=6)
    ratios = evaluate_outlook(result.backtest.assign(level="sku")).set_index(["metric", "horizon_months"])["value"]
    # The best possible one-month ratio on an AR(1) with φ = 0.5 is about √(1.5 / 2) ≈ 0.87; estimation costs some.
    assert ratios[("outlook_vs_no_change", 1)] < 0.97
    assert ratios[("outlook_vs_no_change", 2)] < 0.9
    assert ratios[("outlook_vs_no_change", 3)] < 0.9
    assert (result.forecasts["lower_95"] > 0).all()
    assert (result.forecasts["lower_95"] <= result.forecasts["lower_80"]).all()
    assert (result.forecasts["upper_80"] <= result.forecasts["upper_95"]).all()


def test_hints_follow_holding_cost_and_shelf_life() -> None:
    holding = 0.20 * 60 / 365  # 3.3% over 60 days
    buy = hint(0.062, 0.01, 0.11, holding, True, "cost", 60, SETTINGS)
    assert buy[0] == "buy_ahead"
    assert buy[1] == "Cost expected to rise 6.2% within 60 days, above the 3.3% holding cost: buy ahead"
    assert buy[2] == "预计60天内进价上涨6.2%，高于3.3%的持有成本：建议提前采购"
    assert hint(0.02, -0.02, 0.06, holding, True, "cost", 60, SETTINGS)[0] == "neutral"  # below holding cost
    assert hint(0.062, -0.08, 0.2, holding, True, "cost", 60, SETTINGS)[0] == "neutral"  # too uncertain
    assert hint(-0.06, -0.1, -0.01, holding, True, "cost", 60, SETTINGS)[0] == "wait"
    assert hint(-0.01, -0.05, 0.03, holding, True, "cost", 60, SETTINGS)[0] == "neutral"  # within the noise
    assert "within 30 days," in hint(0.062, 0.01, 0.11, holding, True, "selling", 30, SETTINGS)[1]
    assert "变动+0.0%" in hint(-0.0004, -0.02, 0.02, holding, True, "cost", 60, SETTINGS)[2]
    perishable = hint(0.2, 0.1, 0.3, holding, False, "cost", 60, SETTINGS)
    assert perishable[0] == "neutral"
    assert "Perishable" in perishable[1]
