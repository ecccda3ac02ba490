with source as (
    select * from {{ source('raw', 'stock_movements') }}
)

select
    movement_id,
    merchant_id,
    warehouse_id,
    batch_id,
    product_id,
    movement_type,
    on_hand_delta,
    reserved_delta,
    frozen_delta,
    reason,
    order_id,
    purchase_order_id,
    transfer_id,
    stocktake_id,
    occurred_at,
    {{ business_date('occurred_at') }} as occurred_date
from source
