-- Is the forecast in use better than every single model it was chosen from? For each candidate
-- (and the combination, `ensemble`), over the series it was backtested on, its errors in the
-- window after each series' last backtest origin beside the chosen option's errors on the very
-- same series and window, in the forecast made at each merchant's current as_of. The choice sees
-- only the earlier origins, so this window scores it fairly. Network-wide: one row per option.
-- The forecast ratios show what MASE alone hides: on a SKU that sells on fewer than half of the
-- days, of two flat forecasts below one unit a day the lower has the lower MASE, so an option can
-- win MASE by forecasting below what sold. The standard error of the paired difference in MASE,
-- from its spread over series, says whether chosen_mase_is_lower tells anything at all.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

windows as (
    select
        backtests.merchant_id,
        backtests.sku_code,
        backtests.origin,
        backtests.model,
        backtests.chosen,
        backtests.mase,
        backtests.rmsse,
        backtests.bias,
        backtests.actual_units,
        backtests.forecast_units
    from {{ source('ml', 'forecast_backtests') }} as backtests
    inner join merchants
        on merchants.merchant_id = backtests.merchant_id
        and merchants.as_of = backtests.as_of
    where backtests.horizon_bucket = 'all'
),

last_origins as (
    select merchant_id, sku_code, max(origin) as origin
    from windows
    group by merchant_id, sku_code
),

last_windows as (
    select windows.*
    from windows
    inner join last_origins
        on last_origins.merchant_id = windows.merchant_id
        and last_origins.sku_code = windows.sku_code
        and last_origins.origin = windows.origin
),

chosen as (
    select merchant_id, sku_code, mase, rmsse, bias, forecast_units
    from last_windows
    where chosen
)

select
    candidates.model,
    count(*) as series,
    cast(sum(case when candidates.chosen then 1 else 0 end) as bigint) as series_chosen,
    cast(avg(candidates.mase) as double) as candidate_mase,
    cast(avg(case when candidates.mase is not null then chosen.mase end) as double) as chosen_mase,
    cast(avg(candidates.rmsse) as double) as candidate_rmsse,
    cast(avg(case when candidates.rmsse is not null then chosen.rmsse end) as double) as chosen_rmsse,
    cast(avg(abs(candidates.bias)) as double) as candidate_abs_bias,
    cast(avg(case when candidates.bias is not null then abs(chosen.bias) end) as double) as chosen_abs_bias,
    avg(case when candidates.mase is not null then chosen.mase end) < avg(candidates.mase) as chosen_mase_is_lower,
    cast(stddev_samp(chosen.mase - candidates.mase) / sqrt(count(chosen.mase - candidates.mase)) as double)
        as mase_difference_standard_error,
    cast(sum(candidates.forecast_units) / nullif(sum(candidates.actual_units), 0) as double) as candidate_forecast_ratio,
    cast(
        sum(case when candidates.forecast_units is not null then chosen.forecast_units end)
        / nullif(sum(case when candidates.forecast_units is not null then candidates.actual_units end), 0)
        as double
    ) as chosen_forecast_ratio
from last_windows as candidates
inner join chosen
    on chosen.merchant_id = candidates.merchant_id
    and chosen.sku_code = candidates.sku_code
group by candidates.model
