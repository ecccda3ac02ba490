with source as (
    select * from {{ source('raw', 'refund_lines') }}
)

select
    refund_id,
    order_line_id,
    order_id,
    merchant_id,
    amount_cents,
    commission_cents
from source
