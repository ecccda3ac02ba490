with source as (
    select * from {{ source('raw', 'product_promotion_prices') }}
)

select
    promotion_price_id,
    merchant_id,
    product_id,
    tier,
    region,
    promotion_price,
    valid_from,
    valid_until,
    label,
    recorded_at,
    {{ business_date('recorded_at') }} as recorded_date
from source
