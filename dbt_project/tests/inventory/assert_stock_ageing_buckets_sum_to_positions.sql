{{ config(meta={"dagster": {"ref": {"name": "fct_stock_ageing"}}}) }}

-- Every unit on hand falls in exactly one ageing bucket: per merchant × SKU × warehouse the
-- buckets' quantity and value add up to the position's on_hand and stock_value.

with buckets as (
    select merchant_id, product_id, warehouse_id, sum(quantity) as quantity, sum(stock_value) as stock_value
    from {{ ref('fct_stock_ageing') }}
    group by merchant_id, product_id, warehouse_id
),

positions as (
    select merchant_id, product_id, warehouse_id, on_hand, stock_value
    from {{ ref('fct_stock_positions') }}
    where on_hand <> 0
)

select
    coalesce(positions.merchant_id, buckets.merchant_id) as merchant_id,
    coalesce(positions.product_id, buckets.product_id) as product_id,
    coalesce(positions.warehouse_id, buckets.warehouse_id) as warehouse_id,
    positions.on_hand,
    buckets.quantity,
    positions.stock_value,
    buckets.stock_value as bucket_value
from positions
full outer join buckets
    on buckets.merchant_id = positions.merchant_id
    and buckets.product_id = positions.product_id
    and buckets.warehouse_id = positions.warehouse_id
where positions.on_hand is distinct from buckets.quantity
   or positions.stock_value is distinct from buckets.stock_value
