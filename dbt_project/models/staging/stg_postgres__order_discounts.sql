with source as (
    select * from {{ source('raw', 'order_discounts') }}
)

select
    order_discount_id,
    order_id,
    merchant_id,
    order_line_id,
    level,
    source,
    promotion_id,
    coupon_id,
    amount
from source
