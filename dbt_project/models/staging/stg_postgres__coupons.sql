with source as (
    select * from {{ source('raw', 'coupons') }}
)

select
    coupon_id,
    merchant_id,
    coupon_code,
    name as coupon_name,
    amount_off,
    percent_off,
    threshold_amount,
    valid_from,
    valid_until,
    per_customer_limit,
    total_quantity,
    new_customers_only,
    created_at,
    {{ business_date('created_at') }} as created_date
from source
