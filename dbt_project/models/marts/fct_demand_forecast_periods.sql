-- Weekly and monthly roll-ups of the daily demand forecast made at each merchant's current as_of
-- (all warehouses together), for planning in the periods buyers think in. The interval of a
-- period treats the days' errors as independent and normal: each day's σ is read off its 95%
-- upper bound, (yhat_upper_95 − yhat) / 1.96, and the period's σ is √Σσ². Periods cut by the
-- 90-day horizon keep the days they have (days_covered).

{%- set z_80 = 1.2815515655446004 %}
{%- set z_95 = 1.959963984540054 %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

daily as (
    select
        forecasts.merchant_id,
        merchants.merchant_code,
        forecasts.sku_code,
        merchants.as_of,
        forecasts.date,
        forecasts.yhat,
        greatest(forecasts.yhat_upper_95 - forecasts.yhat, 0) / {{ z_95 }} as daily_sd,
        forecasts.model,
        forecasts.model_version,
        forecasts.run_id
    from {{ source('ml', 'demand_forecasts') }} as forecasts
    inner join merchants
        on merchants.merchant_id = forecasts.merchant_id
        and merchants.as_of = forecasts.as_of
    where forecasts.warehouse_code is null
),

grains as (
    select 'week' as period_grain
    union all
    select 'month'
),

periods as (
    select
        daily.*,
        grains.period_grain,
        cast(date_trunc(grains.period_grain, daily.date) as date) as period_start
    from daily
    cross join grains
),

summed as (
    select
        merchant_id,
        merchant_code,
        sku_code,
        as_of,
        period_grain,
        period_start,
        count(*) as days_covered,
        sum(yhat) as yhat,
        sqrt(sum(daily_sd * daily_sd)) as period_sd,
        max(model) as model,
        max(model_version) as model_version,
        max(run_id) as run_id
    from periods
    group by merchant_id, merchant_code, sku_code, as_of, period_grain, period_start
)

select
    merchant_id,
    merchant_code,
    sku_code,
    as_of,
    period_grain,
    period_start,
    cast(
        case when period_grain = 'week' then period_start + 6 else last_day(period_start) end as date
    ) as period_end,
    cast(days_covered as integer) as days_covered,
    cast(yhat as double) as yhat,
    cast(greatest(yhat - {{ z_80 }} * period_sd, 0) as double) as yhat_lower_80,
    cast(yhat + {{ z_80 }} * period_sd as double) as yhat_upper_80,
    cast(greatest(yhat - {{ z_95 }} * period_sd, 0) as double) as yhat_lower_95,
    cast(yhat + {{ z_95 }} * period_sd as double) as yhat_upper_95,
    model,
    model_version,
    run_id
from summed
