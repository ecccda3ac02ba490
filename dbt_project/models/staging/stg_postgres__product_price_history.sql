with source as (
    select * from {{ source('raw', 'product_price_history') }}
)

select
    price_change_id,
    merchant_id,
    product_id,
    tier,
    region,
    min_quantity,
    unit_price,
    valid_from,
    {{ business_date('valid_from') }} as valid_from_date
from source
