-- Weekly and monthly roll-ups of the daily demand forecast made at each merchant's current as_of
-- (all warehouses together), for planning in the periods buyers think in. The forecast writes
-- them (models/forecasting/intervals.py): a period's interval comes from the backtest's errors of
-- 7-day and 28-day sums, which needs each series' error scale and pool, not in the warehouse.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
)

select
    periods.merchant_id,
    merchants.merchant_code,
    periods.sku_code,
    periods.as_of,
    periods.period_grain,
    periods.period_start,
    periods.period_end,
    cast(periods.days_covered as integer) as days_covered,
    cast(periods.yhat as double) as yhat,
    cast(periods.yhat_lower_80 as double) as yhat_lower_80,
    cast(periods.yhat_upper_80 as double) as yhat_upper_80,
    cast(periods.yhat_lower_95 as double) as yhat_lower_95,
    cast(periods.yhat_upper_95 as double) as yhat_upper_95,
    periods.model,
    periods.model_version,
    periods.run_id
from {{ source('ml', 'demand_forecast_periods') }} as periods
inner join merchants
    on merchants.merchant_id = periods.merchant_id
    and merchants.as_of = periods.as_of
