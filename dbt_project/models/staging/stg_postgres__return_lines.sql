with source as (
    select * from {{ source('raw', 'return_lines') }}
)

select
    return_line_id,
    return_id,
    merchant_id,
    order_line_id,
    quantity,
    refund_amount
from source
