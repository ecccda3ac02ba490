with source as (
    select * from {{ source('raw', 'coupon_redemptions') }}
)

select
    order_id,
    merchant_id,
    coupon_id,
    customer_id,
    redeemed_at,
    {{ business_date('redeemed_at') }} as redeemed_date
from source
