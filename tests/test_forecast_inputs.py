"""What the demand forecast reads from a real tiny pipeline's warehouse: a promotion price set
through the transactional core reaches the forecast's drivers after ingestion and dbt, its depth
measured against the shelf price known when the forecast is made."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import psycopg
import pytest

from pipelines.assets.forecast_inputs import read_demand_drivers
from tests.conftest import PipelineRun, dbt_build, run_cli
from transactional import prices

pytestmark = pytest.mark.slow

BUSINESS_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def test_a_promotion_price_every_customer_pays_reaches_the_demand_drivers(
    own_pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    pipeline = own_pipeline_run
    with psycopg.connect(pipeline.database_url, autocommit=True) as conn:
        product_id, merchant_id, sku_code, price, last_order_at = conn.execute(
            """SELECT p.product_id, p.merchant_id, p.sku_code, p.price,
                      (SELECT max(ordered_at) FROM core.orders WHERE merchant_id = p.merchant_id)
               FROM core.products p
               WHERE p.price > 0 ORDER BY p.product_id LIMIT 1"""
        ).fetchone()
        starts_at = last_order_at + timedelta(days=2)

        def promote(promotion_price: Decimal, **scope: str) -> None:
            prices.set_promotion_price(
                conn,
                product_id=product_id,
                promotion_price=promotion_price,
                valid_from=starts_at,
                valid_until=starts_at + timedelta(days=3),
                at=last_order_at,
                **scope,
            )

        everyones_price = (price * Decimal("0.8")).quantize(Decimal("0.01"))
        promote(everyones_price)
        # Deeper, but for members or one region only: part of the demand, left out.
        deeper = (everyones_price / 2).quantize(Decimal("0.01"))
        promote(deeper, tier="member")
        promote(deeper, region="东乡")
        # A new shelf price from the day after as_of: a forecast made on as_of did not know it.
        prices.set_price(
            conn, product_id=product_id, unit_price=price + Decimal("5.00"), at=last_order_at + timedelta(days=1)
        )

    warehouse = pipeline.home / "warehouse.duckdb"
    before = _promotions_of(warehouse, f"{merchant_id}|{sku_code}")
    run_cli(pipeline, "ingest")
    dbt_build(
        warehouse,
        tmp_path,
        "--select",
        "stg_postgres__product_promotion_prices",
        "stg_postgres__products",
        "stg_postgres__product_price_history",
        "int_shelf_prices_dated",
        "int_promotion_prices_known",
    )
    after = _promotions_of(warehouse, f"{merchant_id}|{sku_code}")

    new = after.merge(before, how="left", indicator=True).query("_merge == 'left_only'")
    assert len(new) == 1, new
    promotion = new.iloc[0]
    assert promotion["starts_on"].date() == _business_date(starts_at)
    assert promotion["ends_on"].date() == _business_date(starts_at + timedelta(days=3, microseconds=-1))
    assert promotion["known_on"].date() == _business_date(last_order_at)
    # Against the shelf price of as_of, not the SKU's price now.
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        price_now = conn.execute(
            "SELECT price FROM staging.stg_postgres__products WHERE product_id = ?", [product_id]
        ).fetchone()[0]
    assert price_now == price + Decimal("5.00")
    assert promotion["percent_off"] == pytest.approx(100 * (1 - float(everyones_price / price)))


def _promotions_of(warehouse: Path, series: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        promotions = read_demand_drivers(conn).promotions
    return promotions[promotions["unique_id"] == series].reset_index(drop=True)


def _business_date(moment: datetime) -> date:
    return moment.astimezone(BUSINESS_TIME_ZONE).date()
