with source as (
    select * from {{ source('raw', 'order_lines') }}
)

select
    order_line_id,
    order_id,
    merchant_id,
    line_no,
    product_id,
    quantity,
    unit_price,
    discount_amount,
    -- quantity × unit_price − discount_amount, generated in PostgreSQL: the net revenue of the line
    line_amount,
    returned_quantity,
    refunded_amount
from source
