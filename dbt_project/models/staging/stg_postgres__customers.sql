with source as (
    select * from {{ source('raw', 'customers') }}
)

select
    customer_id,
    merchant_id,
    customer_code,
    name as customer_name,
    customer_type,
    region,
    price_tier,
    credit_limit,
    created_at,
    {{ business_date('created_at') }} as created_date,
    updated_at
from source
