-- 预测准确率 per merchant × SKU: how far the forecast the merchant is using was off over the last
-- month it could be checked against, the 28 days after the last backtest origin of the forecast
-- made at the merchant's current as_of. The chosen option's forecast total is compared with the
-- units sold: sku_accuracy = 1 − |forecast − actual| / actual (NULL when nothing sold). The
-- merchant's figure (fct_merchant_forecast_accuracy) sums these errors over its SKUs.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

chosen as (
    select
        backtests.merchant_id,
        merchants.merchant_code,
        backtests.sku_code,
        merchants.as_of,
        backtests.origin,
        backtests.model,
        backtests.actual_units,
        backtests.forecast_units,
        backtests.wape,
        backtests.bias,
        backtests.mase,
        backtests.n_points
    from {{ source('ml', 'forecast_backtests') }} as backtests
    inner join merchants
        on merchants.merchant_id = backtests.merchant_id
        and merchants.as_of = backtests.as_of
    where backtests.chosen
      and backtests.horizon_bucket = 'all'
      and backtests.actual_units is not null
),

last_origins as (
    select merchant_id, max(origin) as origin
    from chosen
    group by merchant_id
)

select
    chosen.merchant_id,
    chosen.merchant_code,
    chosen.sku_code,
    chosen.as_of,
    chosen.origin as window_start,
    cast(chosen.origin + chosen.n_points as date) as window_end,
    chosen.model,
    cast(chosen.actual_units as double) as actual_units,
    cast(chosen.forecast_units as double) as forecast_units,
    cast(abs(chosen.forecast_units - chosen.actual_units) as double) as absolute_error,
    cast(1 - abs(chosen.forecast_units - chosen.actual_units) / nullif(chosen.actual_units, 0) as double)
        as sku_accuracy,
    cast(chosen.wape as double) as daily_wape,
    cast(chosen.mase as double) as mase
from chosen
inner join last_origins
    on last_origins.merchant_id = chosen.merchant_id
    and last_origins.origin = chosen.origin
