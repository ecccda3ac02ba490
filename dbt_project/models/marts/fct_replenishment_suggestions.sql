-- Suggested purchase per merchant × active SKU × warehouse at as_of, a periodic-review
-- order-up-to policy: cover the forecast demand until the order after this one can arrive
-- (lead time + review period) plus safety stock, net of sellable stock and open purchase orders.
--   suggested_qty = the smallest multiple of order_multiple that is ≥ both the shortfall and
--   min_order_qty, or 0 when there is no shortfall.

{%- set z = var("safety_stock_z") | float %}
{%- set review_period_days = var("review_period_days") | int %}

with positions as (
    select * from {{ ref('int_replenishment_positions_joined') }}
),

-- Only the forecast made at the merchant's current as_of, all warehouses together; older
-- as_ofs stay in ml.demand_forecasts for backtests.
current_forecasts as (
    select
        forecasts.merchant_id,
        forecasts.sku_code,
        forecasts.date,
        forecasts.yhat,
        forecasts.model,
        forecasts.run_id,
        skus.as_of,
        skus.lead_time_days
    from {{ source('ml', 'demand_forecasts') }} as forecasts
    inner join (
        select distinct merchant_id, sku_code, as_of, lead_time_days
        from positions
    ) as skus
        on skus.merchant_id = forecasts.merchant_id
        and skus.sku_code = forecasts.sku_code
        and skus.as_of = forecasts.as_of
    where forecasts.warehouse_code is null
),

sku_forecasts as (
    select
        merchant_id,
        sku_code,
        sum(
            case when date > as_of and date <= as_of + lead_time_days + {{ review_period_days }} then yhat else 0 end
        ) as lead_time_demand,
        max(model) as forecast_model,
        max(run_id) as forecast_run_id
    from current_forecasts
    group by merchant_id, sku_code
),

needs as (
    select
        positions.*,
        coalesce(sku_forecasts.lead_time_demand, 0) * positions.demand_share as forecast_lead_time_demand,
        {{ z }} * positions.daily_demand_stddev * sqrt(positions.lead_time_days + {{ review_period_days }})
            * positions.demand_share as safety_stock,
        sku_forecasts.forecast_model,
        sku_forecasts.forecast_run_id
    from positions
    left join sku_forecasts
        on sku_forecasts.merchant_id = positions.merchant_id
        and sku_forecasts.sku_code = positions.sku_code
),

shortfalls as (
    select
        *,
        -- Rounded to 1e-6 first so float noise (12.000000001) does not buy another pack.
        round(forecast_lead_time_demand + safety_stock - available - on_order, 6) as shortfall
    from needs
),

suggested as (
    select
        *,
        case
            when shortfall <= 0 then 0
            else ceil(greatest(shortfall, min_order_qty) / order_multiple) * order_multiple
        end as suggested_qty
    from shortfalls
)

select
    merchant_id,
    merchant_code,
    product_id,
    sku_code,
    sku_name,
    warehouse_id,
    warehouse_code,
    supplier_code,
    supplier_name,
    as_of,
    lead_time_days,
    {{ review_period_days }} as review_period_days,
    cast(forecast_lead_time_demand as double) as forecast_lead_time_demand,
    cast(safety_stock as double) as safety_stock,
    on_hand,
    available,
    on_order,
    min_order_qty,
    order_multiple,
    cast(suggested_qty as integer) as suggested_qty,
    unit_cost,
    cast(suggested_qty * unit_cost as decimal(18, 2)) as suggested_value,
    forecast_model,
    forecast_run_id
from suggested
