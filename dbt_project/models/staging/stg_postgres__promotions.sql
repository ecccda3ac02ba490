with source as (
    select * from {{ source('raw', 'promotions') }}
)

select
    promotion_id,
    merchant_id,
    promotion_code,
    name as promotion_name,
    kind,
    starts_at,
    {{ business_date('starts_at') }} as starts_date,
    ends_at,
    {{ business_date('ends_at') }} as ends_date,
    product_id,
    category_id,
    threshold_amount,
    reduction_amount,
    repeat_per_threshold,
    percent_off,
    flash_price,
    quantity_cap,
    sold_quantity,
    per_customer_limit,
    created_at,
    {{ business_date('created_at') }} as created_date
from source
