with source as (
    select * from {{ source('raw', 'sale_lines') }}
)

select
    order_line_id,
    order_id,
    merchant_id,
    category_id,
    commission_rate,
    gross_cents,
    commission_cents,
    refunded_cents,
    commission_refunded_cents
from source
