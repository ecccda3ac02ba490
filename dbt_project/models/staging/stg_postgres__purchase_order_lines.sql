with source as (
    select * from {{ source('raw', 'purchase_order_lines') }}
)

select
    purchase_order_line_id,
    purchase_order_id,
    merchant_id,
    product_id,
    quantity,
    unit_cost,
    received_quantity
from source
