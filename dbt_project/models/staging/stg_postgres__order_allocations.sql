with source as (
    select * from {{ source('raw', 'order_allocations') }}
)

select
    order_line_id,
    warehouse_id,
    batch_id,
    merchant_id,
    quantity as allocated_quantity
from source
