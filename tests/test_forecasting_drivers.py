"""Promotions and shelf prices as the global model's features: what each day's features hold, that a
forecast sees only what was known on the day it was made, and that the model learns a promotion's
lift from them."""

import numpy as np
import pandas as pd
import pytest

from models.forecasting.demand_classes import classify_demand
from models.forecasting.drivers import DRIVER_FEATURES, DemandDrivers, driver_features
from models.forecasting.global_model import GLOBAL_MODEL, backtest_global, forecast_global

SERIES = "1|UREA50"


def days_of(first: str, last: str, known_on: str | None = None, series: str = SERIES) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": series,
            "ds": pd.date_range(first, last),
            "known_on": pd.Timestamp(known_on) if known_on else pd.NaT,
        }
    )


def drivers_of(promotions: list[tuple[str, str, str, float]], prices: list[tuple[str, float]]) -> DemandDrivers:
    """Promotions as (starts, ends inclusive, known, percent off) and price changes as (from, price)
    of SERIES, in the warehouse's shape."""
    return DemandDrivers.from_warehouse(
        promotions=pd.DataFrame(
            [(1, "UREA50", starts, ends, known, off) for starts, ends, known, off in promotions],
            columns=["merchant_id", "sku_code", "starts_date", "ends_date", "known_date", "percent_off"],
        ),
        prices=pd.DataFrame(
            [(1, "UREA50", valid_from, price) for valid_from, price in prices],
            columns=["merchant_id", "sku_code", "valid_from", "unit_price"],
        ),
    )


def test_each_day_holds_its_promotions_depth_and_the_days_since_the_last_one() -> None:
    drivers = drivers_of(
        [
            ("2026-03-10", "2026-03-12", "2026-03-07", 15.0),
            ("2026-03-11", "2026-03-11", "2026-03-01", 20.0),
            ("2026-03-14", "2026-03-14", "2026-03-01", None),
        ],
        [],
    )
    features = driver_features(days_of("2026-03-09", "2026-04-12"), drivers).set_index("ds")
    # The deepest promotion of the day counts; a full reduction (no depth) is none.
    assert features["promotion_percent_off"].loc["2026-03-09":"2026-03-14"].tolist() == [0, 15, 20, 15, 0, 0]
    after = features["days_after_promotion"]
    assert after.loc[:"2026-03-12"].isna().all()
    assert after.loc["2026-03-13":"2026-03-15"].tolist() == [1, 2, 3]
    assert after.loc["2026-04-09"] == 28
    assert after.loc["2026-04-10":].isna().all()
    assert features["price_change_4w"].isna().all()


def test_a_promotion_that_takes_nothing_off_is_no_promotion() -> None:
    # A flash sale or promotion price at or above the SKU's price: no depth, and no dip after it.
    drivers = drivers_of(
        [("2026-03-10", "2026-03-12", "2026-03-07", 0.0), ("2026-03-11", "2026-03-11", "2026-03-07", -5.0)], []
    )
    features = driver_features(days_of("2026-03-09", "2026-03-20"), drivers)
    assert features["promotion_percent_off"].eq(0).all()
    assert features["days_after_promotion"].isna().all()


def test_a_promotion_created_after_the_forecast_was_made_is_not_seen() -> None:
    drivers = drivers_of([("2026-03-10", "2026-03-12", "2026-03-07", 15.0)], [])
    made_before = driver_features(days_of("2026-03-06", "2026-03-20", known_on="2026-03-05"), drivers)
    made_after = driver_features(days_of("2026-03-06", "2026-03-20", known_on="2026-03-07"), drivers)
    assert made_before["promotion_percent_off"].eq(0).all()
    assert made_before["days_after_promotion"].isna().all()
    assert made_after["promotion_percent_off"].sum() == 45
    assert made_after["days_after_promotion"].max() == 8


def test_prices_after_the_forecast_was_made_are_the_price_of_that_day() -> None:
    drivers = drivers_of([], [("2026-01-01", 100.0), ("2026-03-01", 120.0), ("2026-03-20", 90.0)])
    seen = driver_features(days_of("2026-03-05", "2026-04-20"), drivers).set_index("ds")["price_change_4w"]
    # 120 against 100 four weeks back; from the 20th 90 against 100, then 120, then 90.
    assert seen.loc["2026-03-19"] == pytest.approx(1.2)
    assert seen.loc["2026-03-28"] == pytest.approx(0.9)
    assert seen.loc["2026-03-29"] == pytest.approx(0.75)
    assert seen.loc["2026-04-16"] == pytest.approx(0.75)
    assert seen.loc["2026-04-17"] == pytest.approx(1.0)

    ahead = driver_features(days_of("2026-03-05", "2026-04-20", known_on="2026-03-10"), drivers)
    ahead = ahead.set_index("ds")["price_change_4w"]
    # Known on 10 March: 120 from then on, so the cut of the 20th never shows.
    assert ahead.loc["2026-03-20"] == pytest.approx(1.2)
    assert ahead.loc["2026-03-29"] == pytest.approx(1.0)
    assert ahead.loc["2026-04-16"] == pytest.approx(1.0)


def test_days_of_other_series_and_no_drivers_at_all() -> None:
    days = pd.concat([days_of("2026-03-09", "2026-03-12"), days_of("2026-03-09", "2026-03-12", series="2|UREA50")])
    features = driver_features(days, drivers_of([("2026-03-10", "2026-03-10", "2026-03-01", 10.0)], []))
    assert features.groupby("unique_id")["promotion_percent_off"].sum().to_dict() == {SERIES: 10, "2|UREA50": 0}
    nothing = driver_features(days, DemandDrivers.none())
    assert nothing["promotion_percent_off"].eq(0).all()
    assert nothing[DRIVER_FEATURES[1:]].isna().all().all()


def promoted_series(seed: int = 0) -> tuple[pd.DataFrame, DemandDrivers]:
    """Twelve SKUs selling about 4 a day over two years, each on promotion (20 % off, created 3 days
    before) for 4 days at irregular intervals of 3 to 7 weeks, selling three times as much then."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-11-01", "2026-10-31")
    frames, promotions = [], []
    for sku in range(12):
        starts = np.cumsum(rng.integers(21, 50, size=len(days) // 21))
        starts = starts[starts < len(days)]
        on_promotion = np.isin(np.arange(len(days)), (starts[:, None] + np.arange(4)).ravel())
        frames.append(
            pd.DataFrame({"unique_id": f"1|SKU{sku}", "ds": days, "y": rng.poisson(np.where(on_promotion, 12.0, 4.0))})
        )
        for start in days[starts]:
            promotions.append((1, f"SKU{sku}", start, start + pd.Timedelta(days=3), start - pd.Timedelta(days=3), 20.0))
    drivers = DemandDrivers.from_warehouse(
        promotions=pd.DataFrame(
            promotions, columns=["merchant_id", "sku_code", "starts_date", "ends_date", "known_date", "percent_off"]
        ),
        prices=pd.DataFrame(columns=["merchant_id", "sku_code", "valid_from", "unit_price"]),
    )
    return pd.concat(frames, ignore_index=True).assign(y=lambda f: f["y"].astype(float)), drivers


def test_with_its_promotions_known_the_global_model_forecasts_their_lift() -> None:
    series, drivers = promoted_series()
    classes = classify_demand(series)

    def lift(rows: pd.DataFrame, promoted: pd.Series) -> float:
        return rows.loc[promoted, "yhat"].mean() / rows.loc[~promoted, "yhat"].mean()

    with_drivers = backtest_global(series, classes, drivers=drivers)
    without = backtest_global(series, classes)
    promoted = driver_features(with_drivers[["unique_id", "ds"]].assign(known_on=pd.NaT), drivers)
    # Only promotions created by the origin show: those starting in its first three days.
    known = driver_features(with_drivers[["unique_id", "ds"]].assign(known_on=with_drivers["cutoff"]), drivers)
    assert 0 < known["promotion_percent_off"].gt(0).sum() < promoted["promotion_percent_off"].gt(0).sum()
    on_known_promotion = known["promotion_percent_off"].gt(0)
    assert lift(with_drivers, on_known_promotion) > 2.0
    assert lift(without, on_known_promotion) < 1.3

    forecasts = forecast_global(series, with_drivers, drivers=drivers)
    ahead = driver_features(forecasts[["unique_id", "ds"]].assign(known_on=pd.Timestamp("2026-10-31")), drivers)[
        "promotion_percent_off"
    ].gt(0)
    assert ahead.any()
    assert lift(forecasts.assign(model=GLOBAL_MODEL), ahead) > 2.0
