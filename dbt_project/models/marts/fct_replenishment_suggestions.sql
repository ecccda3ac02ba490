-- Suggested purchase per merchant × active SKU × warehouse at as_of, with its explanation. The
-- arithmetic is the replenishment policy's (models/replenishment/policy.py), which the
-- ml/replenishment_plan asset ran on these same positions after the forecast: a periodic review
-- whose reorder point and order-up-to level cover the forecast over lead time + review period
-- plus a safety stock for the SKU's service level, rounded to packs and the MOQ, capped by shelf
-- life. A position without a plan at its as_of (no forecast yet) suggests nothing.

with positions as (
    select * from {{ ref('int_replenishment_positions_joined') }}
),

plans as (
    select * from {{ source('ml', 'replenishment_plan') }}
)

select
    positions.merchant_id,
    positions.merchant_code,
    positions.product_id,
    positions.sku_code,
    positions.sku_name,
    positions.warehouse_id,
    positions.warehouse_code,
    positions.supplier_code,
    positions.supplier_name,
    positions.as_of,
    positions.lead_time_days,
    cast(coalesce(plans.review_period_days, positions.review_period_days) as integer) as review_period_days,
    cast(coalesce(plans.forecast_protection_demand, 0) as double) as forecast_lead_time_demand,
    cast(coalesce(plans.safety_stock, 0) as double) as safety_stock,
    positions.on_hand,
    positions.available,
    positions.on_order,
    positions.min_order_qty,
    positions.order_multiple,
    cast(coalesce(plans.suggested_qty, 0) as integer) as suggested_qty,
    positions.unit_cost,
    cast(coalesce(plans.suggested_qty, 0) * positions.unit_cost as decimal(18, 2)) as suggested_value,
    plans.forecast_model,
    plans.forecast_run_id,
    plans.abc_class,
    plans.xyz_class,
    plans.service_level,
    plans.shelf_life_days,
    plans.lead_time_sd_days,
    plans.daily_forecast_error_sd,
    cast(coalesce(plans.prebuild_qty, 0) as double) as prebuild_qty,
    plans.reorder_point,
    plans.order_up_to,
    positions.available + positions.on_order as position,
    plans.shelf_life_cap,
    coalesce(plans.cap_applied, false) as cap_applied,
    plans.days_of_cover,
    coalesce(plans.reason, 'no_forecast') as reason,
    coalesce(plans.reason_zh, '无预测') as reason_zh,
    plans.run_id as plan_run_id
from positions
left join plans
    on plans.merchant_id = positions.merchant_id
    and plans.product_id = positions.product_id
    and plans.warehouse_id = positions.warehouse_id
    and plans.as_of = positions.as_of
